"""The peer of `codexos bench flow`: the same graphs in LangGraph, timed the
same way, at the same durability. Prints one JSON object.

Usage: python flow_langgraph.py CHAINS FANOUT DIR
  CHAINS  chain lengths, comma-separated (e.g. 1000,10000)
  FANOUT  items of the fan-out
  DIR     a scratch folder for the SQLite checkpoint databases

Durable runs use `SqliteSaver` (WAL, as it sets itself) with `durability="sync"`
— every step's checkpoint is committed before the next step starts, which is
what CodexOS does — once with `PRAGMA synchronous=NORMAL` and once with FULL.
The level in force is read back from SQLite and reported, so the comparison
states the guarantee it measured."""

import json
import operator
import os
import sqlite3
import sys
import time
from typing import Annotated, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send


class Chain(TypedDict, total=False):
    x: int


def noop(state):
    return {}


def chain_graph(length):
    graph = StateGraph(Chain)
    for index in range(length):
        graph.add_node(f"n{index}", noop)
    graph.add_edge(START, "n0")
    for index in range(length - 1):
        graph.add_edge(f"n{index}", f"n{index + 1}")
    graph.add_edge(f"n{length - 1}", END)
    return graph


class Fan(TypedDict, total=False):
    items: list
    results: Annotated[list, operator.add]


class Item(TypedDict):
    item: int


def fan_graph():
    graph = StateGraph(Fan)
    graph.add_node("start", lambda state: {})
    graph.add_node("work", lambda item: {"results": [item["item"]]})
    graph.add_node("join", lambda state: {})
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", lambda state: [Send("work", {"item": i}) for i in state["items"]], ["work"])
    graph.add_edge("work", "join")
    graph.add_edge("join", END)
    return graph


class TimedSaver(SqliteSaver):
    """Times every checkpoint write."""

    def __init__(self, connection):
        super().__init__(connection)
        self.times = []

    def put(self, *args, **kwargs):
        started = time.perf_counter()
        result = super().put(*args, **kwargs)
        self.times.append(time.perf_counter() - started)
        return result


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def durable_run(length, level, path):
    """The chain with a checkpoint committed at `level` after every step."""
    if os.path.exists(path):
        os.remove(path)
    connection = sqlite3.connect(path, check_same_thread=False)
    saver = TimedSaver(connection)
    saver.setup()
    connection.execute(f"PRAGMA synchronous={level}")
    in_force = connection.execute("PRAGMA synchronous").fetchone()[0]
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    graph = chain_graph(length).compile(checkpointer=saver)
    config = {"recursion_limit": length + 10, "configurable": {"thread_id": "bench"}}
    started = time.perf_counter()
    graph.invoke({"x": 0}, config, durability="sync")
    seconds = time.perf_counter() - started
    connection.close()
    return {
        "seconds": seconds,
        "checkpoint_p50_ms": percentile(saver.times, 0.5) * 1000,
        "checkpoint_p99_ms": percentile(saver.times, 0.99) * 1000,
        "checkpoints": len(saver.times),
        "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(in_force, str(in_force)),
        "journal_mode": journal,
    }


def main():
    chains = [int(length) for length in sys.argv[1].split(",")]
    fanout, scratch = int(sys.argv[2]), sys.argv[3]
    # Warm-up: imports, graph compilation paths, SQLite.
    chain_graph(100).compile().invoke({"x": 0}, {"recursion_limit": 110})
    durable_run(100, "NORMAL", os.path.join(scratch, "warmup.sqlite"))

    runs = []
    for length in chains:
        compiled = chain_graph(length).compile()
        started = time.perf_counter()
        compiled.invoke({"x": 0}, {"recursion_limit": length + 10})
        memory = time.perf_counter() - started
        run = {"nodes": length, "memory_s": memory}
        for level in ("NORMAL", "FULL"):
            run[level.lower()] = durable_run(length, level, os.path.join(scratch, f"chain-{length}-{level}.sqlite"))
        runs.append(run)

    fan = fan_graph().compile()
    fan.invoke({"items": list(range(fanout))})
    started = time.perf_counter()
    result = fan.invoke({"items": list(range(fanout))})
    fan_seconds = time.perf_counter() - started
    assert sorted(result["results"]) == list(range(fanout))

    print(json.dumps({
        "version": __import__("importlib.metadata").metadata.version("langgraph"),
        "python": sys.version.split()[0],
        "chains": runs,
        "fanout_s": fan_seconds,
    }))


if __name__ == "__main__":
    main()
