"""A small model server for the demo's models (`keel serve-model`): an upstream for the
gateway, as vLLM, Ollama or a provider would be.

    models.py   loading: scikit-learn pipelines from .skops files (a safe format, with an
                allow-list of types), the support assistant's retrieval index from .npz/.json
    app.py      the OpenAI-compatible ASGI app (Starlette): /v1/predict/{model},
                /v1/chat/completions (plain and SSE), /v1/embeddings, /v1/models
"""
