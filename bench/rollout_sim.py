"""Gradual rollouts decide correctly: A/A false decisions, power, users at the decision, stickiness.

(a) Simulation, vectorised over 1,000 rollouts per scenario, through ``loopstack.monitor.rollouts.decide``
(the function the server's worker calls). Users arrive 50 at a time and each gives one thumbs (up with
p = 0.70 on the control) and fails with p = 0.02 in both arms (the error guardrail is live too). The
rollout ramps 10 -> 25 -> 50 % on evidence (200 users per arm per step), auto-promotes, and is checked
after every batch (continuous peeking) until it decides or 60,000 users have arrived. Scenarios: A/A
(candidate 0.70: every decision is false), candidate 0.65 (power = share rolled back) and 0.75 (power =
share promoted), with the median users per arm at the decision.

(b) End to end: the real server (uvicorn, its worker's rollout job every second) in a subprocess on
127.0.0.1 over a throwaway SQLite file, and this process as the application: the SDK's ``get_prompt(...,
user_id=...)`` behind ``@observe`` (spans over OTLP) and ``feedback()`` (thumbs over ``POST /api/scores``),
5,000 users coming back at random. The server is restarted once during the ramp. A candidate at 0.65
must be rolled back and one at 0.75 promoted, both automatically; every user's arms are recorded from
what the SDK served, and 0 users may have seen both arms.

Run: .venv/bin/python bench/rollout_sim.py [--rollouts 1000] [--skip-e2e]
Target: A/A false rollback + promote rate <= 5 %.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

P_CONTROL = 0.70
P_ERROR = 0.02
BATCH = 50
MAX_USERS = 60_000
POLICY: dict[str, Any] = {
    "steps": [10, 25, 50, 100],
    "on_evidence": True,
    "min_users": 200,
    "auto_promote": True,
    "guardrails": ["error_rate"],
}


# ------------------------------------------------------------------------------------- (a) simulation


def simulate(p_candidate: float, rollouts: int, seed: int) -> dict[str, Any]:
    """Vectorised rollouts: arrays over rollouts, one ``decide`` call per peek for all of them."""
    from loopstack.monitor.rollouts import PROMOTE, ROLLBACK, STEP, ArmPair, Evidence, decide, parse_policy

    policy = parse_policy(POLICY)
    steps = np.asarray(policy.test_steps, dtype=float) / 100
    control_share = 1 - steps[-1]
    rng = np.random.default_rng(seed)
    r = rollouts
    n = {a: np.zeros(r) for a in ("c", "t")}
    ok = {a: np.zeros(r) for a in ("c", "t")}
    err = {a: np.zeros(r) for a in ("c", "t")}
    step_n = {a: np.zeros(r) for a in ("c", "t")}
    step = np.zeros(r, dtype=int)
    decided = np.zeros(r, dtype=int)  # 0 running, else the action
    at_users = np.zeros((r, 2))
    p = {"c": P_CONTROL, "t": p_candidate}
    for _ in range(MAX_USERS // BATCH):
        live = decided == 0
        if not live.any():
            break
        share = {"t": steps[step], "c": np.full(r, control_share)}
        for a in ("c", "t"):
            k = rng.binomial(BATCH, share[a]) * live
            n[a] += k
            step_n[a] += k
            ok[a] += rng.binomial(k, p[a])
            err[a] += rng.binomial(k, P_ERROR)

        def pair(s: dict[str, np.ndarray]) -> ArmPair:
            mc, mt = s["c"] / np.maximum(n["c"], 1), s["t"] / np.maximum(n["t"], 1)
            return ArmPair(n["c"], mc, mc * (1 - mc), n["t"], mt, mt * (1 - mt))

        ev = Evidence(pair(ok), step, step_n["c"], step_n["t"], 0.0, {"error_rate": pair(err)})
        action = np.asarray(decide(policy, ev).action)
        stepping = live & (action == STEP)
        step = np.where(stepping, step + 1, step)
        for a in ("c", "t"):
            step_n[a] = np.where(stepping, 0, step_n[a])
        ending = live & ((action == ROLLBACK) | (action == PROMOTE))
        decided = np.where(ending, action, decided)
        at_users[ending] = np.stack([n["c"], n["t"]], axis=1)[ending]
    done = decided != 0
    return {
        "rollback": float(np.mean(decided == ROLLBACK)),
        "promote": float(np.mean(decided == PROMOTE)),
        "undecided": float(np.mean(~done)),
        "median_control_users": float(np.median(at_users[done, 0])) if done.any() else None,
        "median_candidate_users": float(np.median(at_users[done, 1])) if done.any() else None,
    }


# --------------------------------------------------------------------------------------- (b) end to end


def serve(port: int, home: str) -> None:
    """The server process: the real app, its worker's rollout job checked every second."""
    import uvicorn

    from loopstack.server import create_app

    app = create_app()
    for job in app.state.worker.jobs:
        if job.name == "rollouts":
            job.interval_s = 1.0
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port, self.env, self.proc = port, env, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        import httpx

        code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import rollout_sim; "
        code += f"rollout_sim.serve({self.port}, '')"
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=self.env)  # type: ignore[assignment]
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # type: ignore[unreachable]
            self.proc.wait(30)
            self.proc = None


def end_to_end(p_candidate: float, server: Server, name: str, seed: int) -> dict[str, Any]:
    import httpx

    import loopstack
    from loopstack.prompts import clear_prompt_cache

    http = httpx.Client(base_url=server.url, timeout=30)
    for text in ("Answer briefly: {{q}}", "Answer briefly and cite the docs: {{q}}"):
        body = {"name": name, "messages": [{"role": "user", "content": text}]}
        http.post("/api/prompts", json={**body, "labels": ["production"] if "cite" not in text else []})
    ro = http.post(
        "/api/rollouts", json={"prompt": name, "candidate": 2, "policy": {**POLICY, "min_users": 150}}
    )
    ro.raise_for_status()
    rid = ro.json()["id"]
    clear_prompt_cache()
    rng = random.Random(seed)
    p = {1: P_CONTROL, 2: p_candidate}
    arms_seen: dict[str, set[str]] = {}
    restarted_at_step: int | None = None
    requests = 0

    @loopstack.observe(name="answer")
    def handle(user: str) -> tuple[int, str | None, str | None]:
        prompt = loopstack.get_prompt(name, user_id=user)
        prompt.render(q="how do I reset my password?")
        return prompt.version, prompt.rollout_arm, loopstack.current_trace_id()

    state = {"state": "running", "step_index": 0}
    t0 = time.perf_counter()
    while state["state"] == "running" and requests < 40_000:
        for _ in range(250):
            user = f"user-{rng.randrange(5000)}"
            version, arm, trace = handle(user)
            requests += 1
            if arm in ("control", "candidate"):
                arms_seen.setdefault(user, set()).add(arm)
            if trace is not None:
                loopstack.feedback(trace, "thumbs", rng.random() < p[version])
        loopstack.flush()
        state = http.get(f"/api/rollouts/{rid}").json()
        if restarted_at_step is None and state["step_index"] >= 1 and state["state"] == "running":
            restarted_at_step = state["step_index"]
            server.stop()
            server.start()
            time.sleep(0.5)
        else:
            time.sleep(0.2)
    for _ in range(50):  # the worker may still be deciding the last batch
        state = http.get(f"/api/rollouts/{rid}").json()
        if state["state"] != "running":
            break
        time.sleep(0.5)
    labels = http.get(f"/api/prompts/{name}/versions").json()["items"]
    production = next(v["version"] for v in labels if "production" in v["labels"])
    check = state.get("check") or {}
    return {
        "p_candidate": p_candidate,
        "state": state["state"],
        "reason": state.get("reason"),
        "production_now": production,
        "users_per_arm": check.get("users"),
        "feedback_users_per_arm": check.get("feedback_users"),
        "step_reached": state["step_index"],
        "restarted_at_step": restarted_at_step,
        "requests": requests,
        "seconds": round(time.perf_counter() - t0, 1),
        "users_in_two_arms_sdk": sum(1 for a in arms_seen.values() if len(a) > 1),
        "users_in_two_arms_server": check.get("units_in_two_arms"),
    }


def run_e2e() -> list[dict[str, Any]]:
    import loopstack

    home = tempfile.mkdtemp(prefix="loopstack-rollout-")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPSTACK_")}
    env.update(LOOPSTACK_HOME=home, PYTHONPATH=os.pathsep.join(sys.path))
    server = Server(port, env)
    server.start()
    os.environ.update(LOOPSTACK_HOME=home, LOOPSTACK_ENDPOINT=server.url, LOOPSTACK_PROMPT_CACHE_TTL="1")
    from loopstack.config import get_settings

    get_settings.cache_clear()
    loopstack.init(endpoint=server.url, service_name="rollout-bench")
    try:
        return [
            end_to_end(0.65, server, "support-worse", seed=1),
            end_to_end(0.75, server, "support-better", seed=2),
        ]
    finally:
        loopstack.flush()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    aa = simulate(P_CONTROL, args.rollouts, seed=11)
    worse = simulate(0.65, args.rollouts, seed=12)
    better = simulate(0.75, args.rollouts, seed=13)
    sim_s = time.perf_counter() - t0
    false_rate = aa["rollback"] + aa["promote"]
    print(f"(a) {args.rollouts} rollouts per scenario, peeking after every {BATCH} users ({sim_s:.1f} s)")
    print(
        f"  A/A p=0.70: false rollback {aa['rollback']:.3f}, false promote {aa['promote']:.3f}, "
        f"undecided {aa['undecided']:.3f}"
    )
    print(
        f"  p=0.65: power (rolled back) {worse['rollback']:.3f}, promoted {worse['promote']:.3f}; median "
        f"users at decision control {worse['median_control_users']:.0f} / "
        f"candidate {worse['median_candidate_users']:.0f}"
    )
    print(
        f"  p=0.75: power (promoted) {better['promote']:.3f}, rolled back {better['rollback']:.3f}; median "
        f"users at decision control {better['median_control_users']:.0f} / "
        f"candidate {better['median_candidate_users']:.0f}"
    )
    e2e_ok = True
    if not args.skip_e2e:
        results = run_e2e()
        print("(b) end to end through the SDK and a live server (restarted once during the ramp):")
        for res in results:
            print("  " + json.dumps(res))
        e2e_ok = (
            results[0]["state"] == "rolled_back"
            and results[0]["production_now"] == 1
            and results[1]["state"] == "promoted"
            and results[1]["production_now"] == 2
            and all(r["users_in_two_arms_sdk"] == 0 and r["restarted_at_step"] is not None for r in results)
        )
        print(f"  rollback and promotion as expected, 0 users in two arms: {'yes' if e2e_ok else 'NO'}")
    met = "yes" if false_rate <= 0.05 and e2e_ok else "no"
    print(f"BENCH rollout_sim false_decision_rate={false_rate:.3f} target=0.05 met={met}")


if __name__ == "__main__":
    main()
