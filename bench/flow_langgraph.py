"""The peer of `codexos bench flow`: the same graphs in LangGraph, timed the
same way. Prints one JSON object. Usage: python flow_langgraph.py CHAIN FANOUT DB"""

import json
import operator
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


def main():
    import sqlite3

    chain, fanout, db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    limit = {"recursion_limit": chain + 10}
    compiled = chain_graph(chain).compile()
    compiled.invoke({"x": 0}, limit)  # warm-up
    started = time.perf_counter()
    compiled.invoke({"x": 0}, limit)
    chain_memory = time.perf_counter() - started

    saver = TimedSaver(sqlite3.connect(db, check_same_thread=False))
    durable = chain_graph(chain).compile(checkpointer=saver)
    started = time.perf_counter()
    durable.invoke({"x": 0}, {**limit, "configurable": {"thread_id": "bench"}})
    chain_sqlite = time.perf_counter() - started

    fan = fan_graph().compile()
    fan.invoke({"items": list(range(fanout))})
    started = time.perf_counter()
    result = fan.invoke({"items": list(range(fanout))})
    fan_seconds = time.perf_counter() - started
    assert sorted(result["results"]) == list(range(fanout))

    print(json.dumps({
        "version": __import__("importlib.metadata").metadata.version("langgraph"),
        "chain_memory_s": chain_memory,
        "chain_sqlite_s": chain_sqlite,
        "fanout_s": fan_seconds,
        "checkpoint_p50_ms": percentile(saver.times, 0.5) * 1000,
        "checkpoint_p99_ms": percentile(saver.times, 0.99) * 1000,
        "checkpoints": len(saver.times),
    }))


if __name__ == "__main__":
    main()
