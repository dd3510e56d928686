# Runs inside the sandbox before the tool. Protocol: the tool's module defines
# `main(input)` (may be `async def`); this reads the input as JSON from stdin, calls it,
# and writes exactly one JSON message on fd 3, then exits:
#   {"ok": true, "output": <value>}  or  {"ok": false, "error": {"type", "message"}}
# stdout and stderr stay the tool's own (returned to the caller as excerpts).
import asyncio
import importlib.util
import inspect
import json
import os
import socket
import sys
import threading
import traceback

RESULT_FD = 3
TOOL = "/opt/edgecrew/tool/main.py"


def send(message):
    try:
        text = json.dumps(message, allow_nan=False)
    except (TypeError, ValueError) as err:
        text = json.dumps({"ok": False, "error": {"type": "invalid_output", "message": f"main() returned a value that is not JSON: {err}"}})
    view = memoryview(text.encode("utf-8"))
    while view:
        view = view[os.write(RESULT_FD, view):]
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads the tool left running must not keep the sandbox alive.
    os._exit(0)


def start_egress_bridge(socket_path):
    """With an allow-list, HTTP(S)_PROXY points here; the bridge forwards to the runner's proxy socket."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 3128))
    server.listen(64)

    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            client, _ = server.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(socket_path)
            except OSError:
                client.close()
                continue
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def run():
    if os.environ.get("EDGECREW_EGRESS_SOCKET"):
        start_egress_bridge(os.environ["EDGECREW_EGRESS_SOCKET"])
    spec = importlib.util.spec_from_file_location("tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tool"] = module
    # The tool's top-level code runs before stdin is read: a tool that blocks here never reads it.
    spec.loader.exec_module(module)
    main = getattr(module, "main", None)
    if not callable(main):
        send({"ok": False, "error": {"type": "exception", "message": "The tool must define a function main(input)."}})
    data = json.load(sys.stdin)
    output = main(data)
    if inspect.iscoroutine(output):
        output = asyncio.run(output)
    send({"ok": True, "output": output})


try:
    run()
except MemoryError:
    send({"ok": False, "error": {"type": "memory_limit", "message": "MemoryError"}})
except Exception as err:  # SystemExit and KeyboardInterrupt keep their own exit status
    traceback.print_exc()
    send({"ok": False, "error": {"type": "exception", "message": f"{type(err).__name__}: {err}"}})
