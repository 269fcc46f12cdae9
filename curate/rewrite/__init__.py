"""The rewrite queue: send the salvageable part of a crawl to LLM rewriting and take the rewrites back.

export: policy (policy.py) -> global pass (scan.py) -> per-document decisions (select.py) ->
chunks (chunking.py, tokens.py) -> request files + index + manifest (export.py, queue.py).
ingest: response files joined to the index by custom_id -> checked answers (styles.py) ->
reassembled documents and rejects (ingest.py). Prompt templates: configs/prompts/rewrite/.
"""
