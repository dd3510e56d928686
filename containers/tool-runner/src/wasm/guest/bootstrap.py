# The wasm-mode twin of bootstrap/python.py, run by Pyodide inside the guest
# process (python.ts). Same convention: the tool's module defines `main(input)`
# (may be `async def`); the result is exactly one JSON message:
#   {"ok": true, "output": <value>}  or  {"ok": false, "error": {"type", "message"}}
# What differs is the plumbing: the input arrives as a string, the message is
# returned to the host instead of written to fd 3, and sys.exit(code) returns
# the int `code`, which the host makes its exit status.
import asyncio
import importlib.util
import inspect
import json
import os
import sys
import traceback

TOOL = "/opt/edgecrew/tool/main.py"
# Pyodide's own variables; a tool sees the same environment as in bubblewrap mode.
KEEP_ENV = {"HOME", "LANG", "PATH", "PWD", "TMPDIR"}


def message(msg):
    try:
        return json.dumps(msg, allow_nan=False)
    except (TypeError, ValueError) as err:
        return json.dumps({"ok": False, "error": {"type": "invalid_output", "message": f"main() returned a value that is not JSON: {err}"}})


async def run(input_json):
    for key in list(os.environ):
        if key not in KEEP_ENV:
            del os.environ[key]
    try:
        spec = importlib.util.spec_from_file_location("tool", TOOL)
        module = importlib.util.module_from_spec(spec)
        sys.modules["tool"] = module
        spec.loader.exec_module(module)
        main = getattr(module, "main", None)
        if not callable(main):
            return message({"ok": False, "error": {"type": "exception", "message": "The tool must define a function main(input)."}})
        output = main(json.loads(input_json))
        if inspect.iscoroutine(output):
            output = await output
        return message({"ok": True, "output": output})
    except SystemExit as err:
        code = err.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        return code
    except MemoryError:
        return message({"ok": False, "error": {"type": "memory_limit", "message": "MemoryError"}})
    except Exception as err:
        traceback.print_exc()
        return message({"ok": False, "error": {"type": "exception", "message": f"{type(err).__name__}: {err}"}})
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
