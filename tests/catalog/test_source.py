"""Reading YAML: line numbers, hostile input, Locations and substitutions."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.catalog.source import load_paths, parse_text
from keel.errors import InputError


def test_every_field_has_its_line():
    docs = parse_text(
        "a: 1\n---\n# c\nkind: Model\nspec:\n  dependsOn:\n    - x\n    - y\n", "f.yaml"
    )
    assert [d.data for d in docs] == [
        {"a": 1},
        {"kind": "Model", "spec": {"dependsOn": ["x", "y"]}},
    ]
    second = docs[1]
    assert second.line(("kind",)) == 4
    assert second.line(("spec", "dependsOn")) == 6
    assert second.line(("spec", "dependsOn", 1)) == 8
    assert second.where(("spec", "missing")) == "f.yaml:5"  # nearest ancestor


def test_empty_documents_are_skipped():
    assert parse_text("---\n---\n", "f") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", "f.yaml:2: a: duplicate key"),
        ("a: [1, 2\n", "f.yaml:2: yaml:"),
        ("a: &x [*x]\n", "recursive alias"),
        ("? [1, 2]\n: x\n", "keys must be strings"),
        ("a: .nan\n", "is not a finite number"),
        ("a: !!binary aGVsbG8=\n", "binary values are not supported"),
        ("a: !!python/object:os.system x\n", "yaml:"),
    ],
)
def test_bad_yaml_is_one_line_with_file_and_line(text, expected):
    with pytest.raises(InputError) as info:
        parse_text(text, "f.yaml")
    assert len(info.value.problems) == 1
    assert "\n" not in info.value.problems[0]
    assert expected in info.value.problems[0]


def test_billion_laughs_is_capped():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        levels.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    with pytest.raises(InputError, match="too many aliased nodes"):
        parse_text("\n".join(levels) + "\n", "bomb.yaml")


# Text that reads the same in YAML 1.1 and 1.2 (libyaml folds U+2028 and U+2029 as breaks):
# no lone surrogates, no control characters, no line or paragraph separators
TEXT = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))


def test_dates_stay_strings():
    assert parse_text("refresh: 2026-01-31\n")[0].data == {"refresh": "2026-01-31"}


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n ,?1.\t%@`")), max_size=60))
def test_arbitrary_text_parses_or_fails_with_input_error(text):
    try:
        docs = parse_text(text, "fuzz.yaml")
    except InputError as exc:
        assert all(p.startswith("fuzz.yaml:") for p in exc.problems)
        return
    for doc in docs:
        assert doc.data is not None


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(TEXT, max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(TEXT, max_size=5), inner, max_size=3)
        ),
        max_leaves=15,
    )
)
def test_reads_json_as_yaml_12_does(value):
    """JSON is YAML 1.2, the version Backstage reads: every JSON document reads back equal."""
    assert parse_text(json.dumps({"root": value}, ensure_ascii=False))[0].data == {"root": value}
    assert parse_text(yaml.safe_dump({"root": value}, default_style='"'))[0].data == {"root": value}


def test_location_targets_are_followed_and_remote_ones_kept(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "team.yaml").write_text("kind: Group\nmetadata: {name: t}\n")
    (tmp_path / "loc.yaml").write_text(
        "kind: Location\nmetadata: {name: l}\nspec:\n  targets:\n"
        "    - ./sub/team.yaml\n    - https://example.com/remote.yaml\n    - ./missing.yaml\n"
    )
    loaded = load_paths([tmp_path / "loc.yaml"])
    assert [d.data["metadata"]["name"] for d in loaded.documents] == ["l", "t"]
    assert len(loaded.warnings) == 1 and "missing.yaml" in loaded.warnings[0]
    assert loaded.warnings[0].split(":")[1] == "7"


def test_a_folder_and_its_locations_load_each_file_once(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "kind: Location\nmetadata: {name: l}\nspec: {target: ./b.yaml}\n"
    )
    (tmp_path / "b.yaml").write_text("kind: Group\nmetadata: {name: t}\n")
    assert len(load_paths([tmp_path]).documents) == 2


def test_substitutions(tmp_path):
    (tmp_path / "api.txt").write_text("openapi: 3.0.0\n")
    (tmp_path / "x.json").write_text('{"k": [1, 2]}')
    (tmp_path / "e.yaml").write_text(
        "spec:\n  definition: {$text: ./api.txt}\n  data: {$json: x.json}\n"
        "  remote: {$text: 'https://example.com/api.yaml'}\n"
    )
    spec = load_paths([tmp_path / "e.yaml"]).documents[0].data["spec"]
    assert spec == {
        "definition": "openapi: 3.0.0\n",
        "data": {"k": [1, 2]},
        "remote": {"$text": "https://example.com/api.yaml"},
    }


def test_missing_substitution_and_missing_path_are_errors(tmp_path):
    (tmp_path / "e.yaml").write_text("spec:\n  definition:\n    $text: ./nope.txt\n")
    with pytest.raises(InputError, match=r"e.yaml:3: spec.definition: cannot read \$text"):
        load_paths([tmp_path / "e.yaml"])
    with pytest.raises(InputError, match="no such file or folder"):
        load_paths([tmp_path / "absent.yaml"])
