"""One module per package's commands; `keel.cli.main` wires them into the root."""
