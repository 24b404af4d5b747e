"""The system map and delivery pods: entities, their relations, and the questions they answer.

Practice 1 (map the AI system end to end) and practice 2 (delivery pods). The YAML is
Backstage-compatible; Keel adds DataSource, FeatureSet, Model and BusinessOutcome.
"""
