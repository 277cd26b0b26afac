"""What the Letta server stores for a memory file, for many files in one process (test oracle).

Run with the Python of a venv holding the real server (`bash scripts/e2e/letta-venv.sh 0.16.8`). It calls the
server's own reader, `parse_block_markdown` in letta/services/memory_repo/block_markdown.py (letta 0.16.8), on the
text the post-push sync hands it: `git show` output read by `subprocess.run(..., text=True)`
(letta/services/memory_repo/git_operations.py `_run_git` / `get_files`), i.e. strict UTF-8 with universal newlines.

stdin: JSON lines {"id": ..., "b64": <file bytes>}. stdout: one JSON line each, {"id", "fields": {key: typed value}}
or {"id", "decode_error": true}. Typed values keep Python's types: {"t": "str"|"int"|"float"|"bool"|"null"|"date"|
"datetime"|"bytes"|"list"|"dict", "v": ...}; ints as decimal strings (exact), dict items as [typed key, typed value].
"""
import base64
import datetime
import json
import math
import sys

from letta.services.memory_repo.block_markdown import parse_block_markdown


def typed(v):
    if v is None:
        return {"t": "null"}
    if isinstance(v, bool):
        return {"t": "bool", "v": v}
    if isinstance(v, int):
        return {"t": "int", "v": str(v)}
    if isinstance(v, float):
        return {"t": "float", "v": repr(v) if not math.isfinite(v) else v}
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, datetime.datetime):
        return {"t": "datetime", "v": v.isoformat()}
    if isinstance(v, datetime.date):
        return {"t": "date", "v": v.isoformat()}
    if isinstance(v, bytes):
        return {"t": "bytes", "v": base64.b64encode(v).decode()}
    if isinstance(v, list):
        return {"t": "list", "v": [typed(x) for x in v]}
    if isinstance(v, dict):
        return {"t": "dict", "v": [[typed(k), typed(x)] for k, x in v.items()]}
    return {"t": type(v).__name__, "v": repr(v)}


def server_text(data: bytes) -> str:
    # subprocess.run(text=True): decode, then Popen._translate_newlines.
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            text = server_text(base64.b64decode(req["b64"]))
        except UnicodeDecodeError:
            out.write(json.dumps({"id": req["id"], "decode_error": True}) + "\n")
            continue
        parsed = parse_block_markdown(text)
        out.write(json.dumps({"id": req["id"], "fields": {k: typed(v) for k, v in parsed.items()}}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
