"""
`npm run load`'s traffic (scripts/load/run.mjs starts the Worker, seeds tenants and runs this).

Each simulated user works as one tenant's API key (tenants from LOAD_KEYS, round robin) and mixes:
task CRUD, quick add, a sync socket that must see its own write, a run started and waited for
(reported as one "run start→complete" request), and the tenant's webhook receipts (measured by the
receiver in run.mjs, commit → verified receipt). Custom request types go through locust's request
event, so they land in the same CSV and summary as the HTTP ones.
"""
import json
import os
import time
import itertools

from locust import HttpUser, between, events, task

KEYS = json.loads(os.environ["LOAD_KEYS"])
FLOW_IDS = json.loads(os.environ["LOAD_FLOWS"])
RUN_TIMEOUT_S = float(os.environ.get("LOAD_RUN_TIMEOUT_S", "30"))
_next = itertools.count()

try:  # python3-websocket (websocket-client); gevent makes its sockets cooperative under locust.
    import websocket  # type: ignore

    HAVE_WS = True
except ImportError:  # documented in docs/operations.md: the sync row is then skipped
    HAVE_WS = False


def fire(name, kind, started, error=None, length=0):
    events.request.fire(
        request_type=kind,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=error,
        context={},
    )


class TenantUser(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        i = next(_next)
        self.key = KEYS[i % len(KEYS)]
        self.flow = FLOW_IDS[i % len(FLOW_IDS)]
        self.auth = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        self.tasks_made = []

    # --- task CRUD -------------------------------------------------------------
    @task(4)
    def create_task(self):
        with self.client.post("/v1/tasks", json={"title": "load task", "priority": 2}, headers=self.auth, name="POST /v1/tasks", catch_response=True) as r:
            if r.status_code == 201:
                self.tasks_made.append(r.json()["id"])
                r.success()
            else:
                r.failure(f"{r.status_code} {r.text[:200]}")

    @task(3)
    def list_tasks(self):
        self.client.get("/v1/tasks?limit=20", headers=self.auth, name="GET /v1/tasks")

    @task(2)
    def update_task(self):
        if not self.tasks_made:
            return
        tid = self.tasks_made[-1]
        self.client.patch(f"/v1/tasks/{tid}", json={"title": "load task (edited)"}, headers=self.auth, name="PATCH /v1/tasks/{id}")

    @task(1)
    def complete_and_delete(self):
        if not self.tasks_made:
            return
        tid = self.tasks_made.pop(0)
        self.client.post(f"/v1/tasks/{tid}/complete", json={}, headers=self.auth, name="POST /v1/tasks/{id}/complete")
        with self.client.delete(f"/v1/tasks/{tid}", headers=self.auth, name="DELETE /v1/tasks/{id}", catch_response=True) as r:
            if r.status_code in (200, 204):
                r.success()
            else:
                r.failure(f"{r.status_code} {r.text[:200]}")

    # --- quick add ---------------------------------------------------------------
    @task(2)
    def quick_add(self):
        with self.client.post(
            "/v1/tasks/quick-add",
            json={"text": "call the bank tomorrow at 10am p2 #load", "timezone": "Europe/Berlin"},
            headers=self.auth,
            name="POST /v1/tasks/quick-add",
            catch_response=True,
        ) as r:
            if r.status_code in (200, 201):
                r.success()
            else:
                r.failure(f"{r.status_code} {r.text[:200]}")

    # --- run start and wait ------------------------------------------------------
    @task(2)
    def run_start_and_wait(self):
        started = time.perf_counter()
        r = self.client.post(f"/v1/flows/{self.flow}/runs", json={"input": {}}, headers=self.auth, name="POST /v1/flows/{id}/runs")
        if r.status_code != 201:
            fire("run start→complete", "RUN", started, RuntimeError(f"start {r.status_code}"))
            return
        run_id = r.json()["id"]
        while time.perf_counter() - started < RUN_TIMEOUT_S:
            g = self.client.get(f"/v1/runs/{run_id}", headers=self.auth, name="GET /v1/runs/{id} (poll)")
            status = g.json().get("status") if g.status_code == 200 else None
            if status == "succeeded":
                fire("run start→complete", "RUN", started)
                return
            if status in ("failed", "cancelled"):
                fire("run start→complete", "RUN", started, RuntimeError(f"run {status}"))
                return
            time.sleep(0.05)
        fire("run start→complete", "RUN", started, TimeoutError("run did not finish"))

    # --- sync socket: a write seen on the tenant's socket ------------------------------
    @task(1)
    def sync_socket(self):
        if not HAVE_WS:
            return
        base = self.host.replace("http://", "ws://").replace("https://", "wss://")
        started = time.perf_counter()
        try:
            ws = websocket.create_connection(f"{base}/v1/sync/ws?since=0", header=[f"Authorization: Bearer {self.key}"], timeout=10)
        except Exception as e:  # noqa: BLE001 - any failure to connect is the row's failure
            fire("sync connect→synced", "WS", started, e)
            return
        try:
            while True:
                frame = json.loads(ws.recv())
                if frame.get("type") in ("synced", "resync"):
                    break
            fire("sync connect→synced", "WS", started)
            title = f"sync {time.time_ns()}"
            t0 = time.perf_counter()
            self.client.post("/v1/tasks", json={"title": title}, headers=self.auth, name="POST /v1/tasks (sync)")
            while time.perf_counter() - t0 < 10:
                frame = json.loads(ws.recv())
                if frame.get("type") == "change" and title in json.dumps(frame):
                    fire("sync write→receipt", "WS", t0)
                    return
            fire("sync write→receipt", "WS", t0, TimeoutError("change not received"))
        except Exception as e:  # noqa: BLE001
            fire("sync write→receipt", "WS", started, e)
        finally:
            ws.close()
