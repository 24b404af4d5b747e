"""The incidents package: incidents opened by people and by Keel, with their timelines.

tables.py    incidents, notes, action items, the detect reconciler's cursor
service.py   opening, moving forward (ack, mitigate, resolve), notes, action items, reading
timeline.py  an incident's timeline: governance events and the gateway's per-minute figures
detect.py    what opens an incident by itself: a failed audit verify, the gateway's anomalies
jobs.py      the `incidents.detect` reconciler the worker runs
"""
