"""The dataset card ``README.md`` of a prepared dataset: a Hugging Face dataset-card YAML header
(``configs`` with ``data_files`` per benchmark and split, pointing at the shards; license; tags)
and the provenance in words.

The card is listed in ``dataset.json`` ``files`` (so ``verify`` and ``pull`` check its sha256 like
any file) but is not content: the fingerprint ignores it. It holds no timestamp, so the same
inputs give the same bytes.
"""
from __future__ import annotations

import yaml

from actclr.store.manifest import SPLITS

CARD = "README.md"
TAGS = ["skeleton", "action-recognition", "self-supervised-learning", "webdataset", "actclr"]


def card_header(info: dict) -> dict:
    """The YAML header: one ``configs`` entry per benchmark, one ``data_files`` entry per non-empty split."""
    configs = []
    for i, (benchmark, counts) in enumerate(info["counts"].items()):
        files = [{"split": split, "path": f"shards/{benchmark}/{split}-*.tar"} for split in SPLITS if counts.get(split)]
        configs.append({"config_name": benchmark, "data_files": files, **({"default": True} if i == 0 else {})})
    return {"pretty_name": f"{info['title']} skeletons, prepared by actclr ({info['profile']['name']})",
            "license": "other", "license_name": f"{info['name']}-terms",
            "license_details": f"The terms of the original {info['title']} dataset apply; agreeing to them is the "
                               "user's responsibility.",
            "tags": TAGS, "configs": configs}


def dataset_card(info: dict) -> str:
    """The text of ``README.md`` for ``info`` (``dataset.json`` with its ``fingerprint``, without
    ``files``); ``info["source"]["inputs"]`` names each raw archive or folder with its digest."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(info["profile"]["params"].items()))
    source = info.get("source", {})
    inputs = "\n".join(f"  - `{name}`: `{digest}`" for name, digest in source.get("inputs", {}).items()) or "  - ?"
    first = next(iter(info["counts"]))
    rows = "\n".join(f"| {b} | {' | '.join(str(c.get(s, 0)) for s in SPLITS)} | {sum(c.values())} |"
                     for b, c in info["counts"].items())
    return f"""---
{yaml.safe_dump(card_header(info), sort_keys=False).strip()}
---

# {info['title']} skeletons, prepared by actclr

{info['num_samples']} skeleton sequences of {info['num_classes']} action classes from {info['title']},
converted by actclr `prepare` into a self-describing directory: `manifest.parquet`,
`skeletons.h5`, WebDataset shards per benchmark and split (`shards/<benchmark>/<split>-NNNNNN.tar`, members
`<key>.skeleton.npy` float32 `(3, T, 25, 2)`, `<key>.cls` label, `<key>.json` metadata), average motions
and `dataset.json` (sha256 of every file, fingerprint).

**Terms of use.** This is a derivative of {info['title']}. Its original license terms apply to this copy;
reading and agreeing to them, and sharing it only as they allow, is the user's responsibility.

## Provenance

- Source: {source.get('files', '?')} raw files; sha256 over the raw files' content digests (plain
  files: their sha256; archive members: size and CRC-32): `{source.get('digest', '?')}`. Per raw input:
{inputs}
- Profile: `{info['profile']['name']}` ({params}); shard seed {info.get('shard_seed')}.
- Toolkit: actclr {info['toolkit_version']}, format version {info['format_version']}.
- Fingerprint (content of the manifest and the HDF5 tensors): `{info['fingerprint']}`.
- Skipped raw files: {len(info.get('skipped', []))}; malformed raw files: {len(info.get('bad', []))}
  (both listed in `dataset.json`).

| benchmark | {' | '.join(SPLITS)} | total |
|---|{'---|' * len(SPLITS)}---|
{rows}

## How to load

With actclr (checks every sha256 and the fingerprint; any fsspec URL works in place of the directory):

```bash
actclr-data verify DIR
actclr-train pretrain --data DIR --benchmark {first} ...
```

Without it, with the Hugging Face `datasets` library (one configuration per benchmark):

```python
import datasets, numpy
train = datasets.load_dataset("DIR or ORG/NAME", "{first}", split="train")
x = numpy.asarray(train[0]["skeleton.npy"], dtype="float32")   # (3, T, 25, 2); train[0]["cls"]: the label
```

or with any tar reader, h5py (`skeletons.h5` `ready`: `(N, 3, T, 25, 2)`) or pyarrow (`manifest.parquet`).
"""
