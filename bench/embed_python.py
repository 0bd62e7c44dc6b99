"""The Python peer of `codexos bench embed`: the pipeline Python fastembed runs
(Hugging Face `tokenizers` + `onnxruntime`, mean pooling, L2 normalisation),
on the same model file, texts and thread count, batch by batch in the order
given (no grouping by length).

Each batch size runs twice, so Python gets the same parallelism choices as
CodexOS: one session with ORT_THREADS intra-op threads, and ORT_THREADS
processes with one thread each working on interleaved shares (CodexOS's own
setting), timed from a common start after every process has loaded and warmed
up until the last one is done.

Usage: python3 embed_python.py MODEL_DIR ORT_THREADS TEXTS.json BATCH [BATCH...]
Prints one JSON object: {"batch": {"1": embeddings_per_second, ...},
"parallel": {"1": ..., ...}, "workers": ORT_THREADS, "first_vector": [...]}.
"""

import json
import multiprocessing
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 256


def load(model_dir, threads):
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        f"{model_dir}/model.onnx", options, providers=["CPUExecutionProvider"]
    )
    return tokenizer, session


def embed(tokenizer, session, texts):
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64)
    hidden = session.run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    )[0]
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _worker(model_dir, texts, batch, barrier, done):
    tokenizer, session = load(model_dir, 1)
    embed(tokenizer, session, texts[:8])  # warm-up
    barrier.wait()
    for start in range(0, len(texts), batch):
        embed(tokenizer, session, texts[start : start + batch])
    done.put(time.perf_counter())


def parallel(model_dir, texts, workers, batch):
    """Embeddings/s of `workers` one-thread processes on interleaved shares."""
    # Fresh interpreters: forking a process that holds ONNX Runtime threads can hang.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    done = context.Queue()
    processes = [
        context.Process(target=_worker, args=(model_dir, texts[index::workers], batch, barrier, done))
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    ends = [done.get() for _ in processes]
    for process in processes:
        process.join()
    return len(texts) / (max(ends) - started)


def main():
    model_dir, threads, texts_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    batches = [int(value) for value in sys.argv[4:]] or [1, 32]
    with open(texts_file, encoding="utf-8") as handle:
        texts = json.load(handle)
    tokenizer, session = load(model_dir, threads)
    embed(tokenizer, session, texts[:8])  # warm-up
    rates = {}
    first = None
    for batch in batches:
        started = time.perf_counter()
        vectors = []
        for start in range(0, len(texts), batch):
            vectors.append(embed(tokenizer, session, texts[start : start + batch]))
        elapsed = time.perf_counter() - started
        rates[str(batch)] = len(texts) / elapsed
        first = first if first is not None else np.concatenate(vectors)[0]
    parallel_rates = {str(batch): parallel(model_dir, texts, threads, batch) for batch in batches}
    print(json.dumps({
        "batch": rates,
        "parallel": parallel_rates,
        "workers": threads,
        "first_vector": first[:8].tolist(),
    }))


if __name__ == "__main__":
    main()
