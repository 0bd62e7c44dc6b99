"""The Python peer of `codexos bench embed`: the pipeline Python fastembed runs
(Hugging Face `tokenizers` + `onnxruntime`, mean pooling, L2 normalisation),
on the same model file, texts and thread count, batch by batch in the order
given (no grouping by length).

Usage: python3 embed_python.py MODEL_DIR ORT_THREADS TEXTS.json BATCH [BATCH...]
Prints one JSON object: {"batch": {"1": embeddings_per_second, ...}, "cosine_check": ...}.
"""

import json
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
    print(json.dumps({"batch": rates, "first_vector": first[:8].tolist()}))


if __name__ == "__main__":
    main()
