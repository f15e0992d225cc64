"""Edit tokens in the run stream's URL never reach the access log."""

import logging

from server.logs import RedactTokens


def _access_record(path: str) -> logging.LogRecord:
    # uvicorn's access logger formats '%s - "%s %s HTTP/%s" %d' with the path (query included) as an arg.
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:5000", "GET", path, "1.1", 101), None)


def test_token_is_blanked_and_the_rest_kept() -> None:
    record = _access_record("/api/runs/abc/stream?token=s3cr3t-T0ken_x&x=1")
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert "s3cr3t" not in line
    assert "/api/runs/abc/stream?token=***&x=1" in line


def test_lines_without_tokens_are_untouched() -> None:
    record = _access_record("/api/health")
    RedactTokens().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/health HTTP/1.1" 101'


def test_share_paths_subprotocols_and_bearer_values_are_blanked_too() -> None:
    for path, kept in [("/s/AbC-12_x", "/s/***"), ("/api/shared/AbC-12_x/fork", "/api/shared/***/fork")]:
        record = _access_record(path)
        RedactTokens().filter(record)
        assert "AbC-12_x" not in record.getMessage() and kept in record.getMessage()
    record = logging.LogRecord("uvicorn.error", logging.DEBUG, __file__, 1, "offered layerlab.token.AbC-12_x; "
                               "Authorization: Bearer AbC-12_y", None, None)
    RedactTokens().filter(record)
    assert "AbC-12" not in record.getMessage()
