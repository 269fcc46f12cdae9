"""Sending documents to an LLM as batch files: build requests, send them (or let vLLM / a hosted
batch API do it), read the answers back by custom_id. See docs/llm.md."""

from curate.llm.batch import (
    Answer,
    BatchFileError,
    RequestWriter,
    Responses,
    json_schema_format,
    make_request,
    read_requests,
    read_responses,
    iter_responses,
    request_id,
)

__all__ = ["Answer", "BatchFileError", "RequestWriter", "Responses", "json_schema_format", "make_request",
           "read_requests", "read_responses", "iter_responses", "request_id"]
