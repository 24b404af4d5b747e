"""Governed pipelines: releases of models, with the evidence and attestations they rest on."""
