"""The readiness check (practice 0) and the lifecycle stages of each system.

`scorecard` scores five dimensions (data foundations, ownership, infrastructure, risk &
compliance, change management) from the catalog, the pipeline and the log, each finding
with the points it costs and how to fix it; `stages` keeps each system's lifecycle stage
(design → build → validate → operate) and moves it on only when the exit criteria hold;
`reviews` records the privacy, legal and security reviews of a system.
"""
