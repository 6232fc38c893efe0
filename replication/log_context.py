"""One log format for every process (portal, endpoints, workers), and the context each record carries.

The context (the request id, and the job and region while a job runs) lives in a contextvar, so the
code that logs never passes it around: the request id middleware, the Celery task signals and the job
runner set it; a logging filter copies it onto every record. Importable without Django settings
(settings.py builds LOGGING from `logging_config`; gunicorn's config imports it before Django).
"""
import contextlib
import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

# Fields a record may carry besides its message; the request id is always there (empty outside a request).
CONTEXT_FIELDS = ("request_id", "job_id", "region")
_context: ContextVar[dict] = ContextVar("log_context", default={})

# What an incoming X-Request-ID may be: a short token (a proxy's or a client's id), never free text that
# could forge log lines or headers.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def request_id_accept(candidate: str | None) -> str:
    """`candidate` when it is a valid request id, else a new one."""
    if candidate and REQUEST_ID_PATTERN.fullmatch(candidate):
        return candidate
    return request_id_new()


def request_id_new() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    return _context.get().get("request_id", "")


def current_log_context() -> dict:
    return dict(_context.get())


@contextlib.contextmanager
def log_context(**fields):
    """Add `fields` (request_id, job_id, region) to every record logged inside the block; None/"" ones are
    left out (a job without a request id keeps none rather than its caller's)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v not in (None, "")}})
    try:
        yield
    finally:
        _context.reset(token)


def context_enter(**fields):
    """Like `log_context` for code that cannot wrap a block (Celery's prerun/postrun signals): returns the
    token that `context_exit` takes."""
    return _context.set({k: v for k, v in fields.items() if v not in (None, "")})


def context_exit(token) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current context onto the record (as attributes), for both formatters."""

    def filter(self, record):
        context = _context.get()
        if "request_id" not in context and hasattr(record, "request"):
            # Django logs a 4xx/5xx (django.request) after the middlewares returned, with the request attached.
            context = {**context, "request_id": getattr(record.request, "request_id", "")}
        for field in CONTEXT_FIELDS:
            if not hasattr(record, field):  # a record may bring its own (extra=)
                setattr(record, field, context.get(field, ""))
        record.context = " ".join(f"{f}={getattr(record, f)}" for f in CONTEXT_FIELDS if getattr(record, f))
        return True


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record):
        line = super().format(record)
        context = getattr(record, "context", "")
        if context:  # after the message, so the first line stays readable; one line per record
            head, sep, tail = line.partition("\n")
            line = f"{head} [{context}]{sep}{tail}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and job_id/region when set."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        for field in CONTEXT_FIELDS[1:]:
            value = getattr(record, field, "")
            if value not in ("", None):
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(*, level: str = "INFO", format: str = "text") -> dict:
    """The `logging.config.dictConfig` of every process; format "json" or "text"."""
    if format not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"line": {"()": JsonFormatter if format == "json" else TextFormatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "line"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"},
            # gunicorn's own loggers write through the same handler (portal/gunicorn_conf.py).
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": True},
        },
    }
