"""zqvl-eval: the loss is the trainer's, chrF is sacrebleu's chrF2, defect rates come from clean's detectors,
and the JSON keeps the documented schema."""

from __future__ import annotations

import json
import math

import pytest
from helpers.train_helpers import workspace

from zqvl.cli import eval as eval_cli
from zqvl.data.template import DEFAULT_SYSTEM
from zqvl.infer import eval as ev
from zqvl.infer.chat import Chat, Reply
from zqvl.infer.scores import chrf, exact_match, normalize

MODEL_KEYS = {
    "name",
    "loss",
    "perplexity",
    "exact_match",
    "chrf",
    "ended",
    "mean_length",
    "defects",
    "sampled_defects",
    "sampled_exact_match",
    "answers",
}


# -- chrF and exact match, against hand-computed values ---------------------------------------------------------
def test_chrf_hand_computed():
    assert chrf("abc", "abc") == pytest.approx(100.0)
    assert chrf("a b c", "abc") == pytest.approx(100.0)  # whitespace is removed
    # 1-grams: P = R = 1/2; 2-grams: P = R = 0; orders 3-6 occur in neither -> avg P = avg R = 1/4
    assert chrf("ab", "ac") == pytest.approx(25.0)
    # only 1-grams count: P = 1, R = 1/2 -> F2 = 5 * 0.5 / (4 * 1 + 0.5); recall weighs more than precision
    assert chrf("a", "ab") == pytest.approx(100 * 2.5 / 4.5)
    assert chrf("ab", "a") == pytest.approx(100 * 2.5 / 3.0)
    assert chrf("", "abc") == 0.0 and chrf("xyz", "abc") == 0.0
    # corpus: n-gram counts are summed before the score ("ab"/"ab" + "a"/"ab"): 1-grams 3 common of 3 hyp,
    # 4 ref; 2-grams 1 common of 1 hyp, 2 ref -> P = (1 + 1) / 2, R = (3/4 + 1/2) / 2
    p, r = 1.0, (3 / 4 + 1 / 2) / 2
    assert chrf(["ab", "a"], ["ab", "ab"]) == pytest.approx(100 * 5 * p * r / (4 * p + r))


def test_exact_match_normalises_space_case_and_punctuation():
    assert normalize("它们是红色的。") == normalize(" 它们是红色的 ") == "它们是红色的"
    assert exact_match(
        ["It is RED.", "它是蓝色的！", "不对"], ["it is red", "它是蓝色的。", "它是绿色的。"]
    ) == pytest.approx(2 / 3)


def test_defect_rates_use_clean_detectors():
    rates = ev.defect_rates(
        ["以下是翻译：这是红色。", "这是红色。", "的" * 12, "作为一个AI语言模型，我无法看到图片。", "助手：这是红色。"]
    )
    assert rates == {
        "preamble": 0.2,
        "refusal": 0.2,
        "repetition": 0.2,
        "untranslated": 0.0,
        "script": 0.0,
        "junk": 0.2,
        "truncation": 0.0,
    }
    assert ev.defect_rates(["The image shows two red circles on the left of the picture."])["untranslated"] == 1.0
    assert ev.defect_rates(["圖片的左邊有兩個紅色的圓形。"])["script"] == 1.0
    assert ev.defect_rates(["图片的左边有两个红色的，"])["truncation"] == 1.0
    # an untrained model's answer of bare newlines is no serialization junk (it used to read as "starts as JSON")
    assert ev.defect_rates(["\n" * 24], ["a purple triangle"])["junk"] == 0.0
    # clean's apology rule needs a source to compare with: without one, only its monolingual rules fire
    assert ev.defect_rates(["抱歉，我无法描述这张图片。"])["refusal"] == 0.0


def test_defects_judge_an_answer_against_the_references_source():
    """A short answer left in English is only visible next to the English it copies (what clean does on a
    translated record); truncation stays monolingual, since a brief answer is not a cut-off one."""
    answers = ["a orange square", "橙色的正方形", "对不起，我无法这个翻译 green", "橙色", "写着 EXIT 的牌子"]
    sources = ["an orange square", "an orange square", "an orange square", "an orange square, drawn large", None]
    alone = ev.defect_flags(answers)
    paired = ev.defect_flags(answers, sources)
    assert alone["untranslated"] == [False] * 5  # two words, one of them "a": not English prose on its own
    assert paired["untranslated"] == [True, False, False, False, False]
    assert paired["refusal"][2] or paired["preamble"][2]
    assert paired["truncation"] == alone["truncation"]
    assert not any(paired[f][1] or paired[f][4] for f in ev.DEFECT_FAMILIES)
    with pytest.raises(ValueError):
        ev.defect_flags(answers, sources[:2])  # misaligned lists are a bug, not a shorter report


# -- on a tiny model ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from zqvl.data.shards import ShardOptions, shard_dir
    from zqvl.data.synth import synthesize

    base = tmp_path_factory.mktemp("eval")
    synthesize(base / "data", 24, seed=5)
    shard_dir(base / "data", base / "shards", ShardOptions(max_count=4, val_fraction=0.5), workers=0)
    return {"model": workspace(tmp_path_factory) / "model", "shards": base / "shards"}


def test_loss_equals_the_trainers_on_the_same_batch(setup):
    import torch

    from zqvl.data.shards.reader import SkipSample
    from zqvl.train.collate import SampleBuilder, collate

    items, split = ev.load_items([str(setup["shards"])])
    assert split == "val" and 4 <= len(items) < 24
    chat = Chat(setup["model"])
    opts = ev.EvalOptions(batch_size=len(items) * 4, max_new_tokens=2)
    loss, tokens, dropped = ev.answer_loss(chat.model, chat.processor, items, opts)
    # the trainer's way: its SampleBuilder, collate, the loop's inputs, the model's own loss
    builder = SampleBuilder(chat.processor, 2048, DEFAULT_SYSTEM, skip=SkipSample)
    samples = [s for it in items for s in builder(it.record, it.images)]
    batch = collate(samples, chat.processor.tokenizer.pad_token_id)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
    inputs["pixel_values"] = batch["pixel_values"].to(torch.float32)
    with torch.no_grad():
        expected = chat.model(**inputs, use_cache=False).loss.item()
    assert dropped == 0 and tokens == int((batch["labels"][:, 1:] != -100).sum()) > 0
    assert loss == pytest.approx(expected, rel=1e-6)
    # in several micro-batches the token-weighted mean is the same number
    split_loss, _, _ = ev.answer_loss(chat.model, chat.processor, items, ev.EvalOptions(batch_size=1))
    assert split_loss == pytest.approx(expected, rel=1e-5)
    assert math.log(chat.processor.tokenizer.vocab_size) * 0.5 < loss < 30  # random weights: about log(vocab)


@pytest.mark.parametrize(
    "answer, family", [("以下是翻译：图片的左边有两个红色的圆形。", "preamble"), ("的" * 40, "repetition")]
)
def test_a_model_that_always_says_it_scores_one(setup, monkeypatch, answer, family):
    calls = []

    def fake_ask(self, conv, question, new_images=(), **gen):
        calls.append((question, len(new_images), gen))
        return Reply(answer, 12, "im_end")

    monkeypatch.setattr(Chat, "ask", fake_ask)
    result = ev.evaluate(
        [str(setup["model"])],
        [str(setup["shards"])],
        ev.EvalOptions(max_samples=4, max_new_tokens=8, sample=2, temperature=0.9),
    )
    [model] = result["models"]
    assert result["samples"] == 4 and len(calls) == 4 * 3
    assert all(q.startswith("<image>\n") and n == 1 and g["max_new_tokens"] == 8 for q, n, g in calls)
    assert [g.get("sample", False) for _, _, g in calls[:3]] == [False, True, True]
    assert model["defects"][family] == 1.0 and model["sampled_defects"][family] == 1.0
    assert model["ended"] == 1.0 and model["mean_length"] == 12 and model["exact_match"] == 0.0
    assert model["sampled_exact_match"] == 0.0
    assert [a["answer"] for a in model["answers"]] == [answer] * 4 and all(a["reference"] for a in model["answers"])


def test_cli_table_and_json_schema(setup, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = eval_cli._main(
        [
            str(setup["model"]),
            "--shards",
            str(setup["shards"]),
            "--max-samples",
            "4",
            "--max-new-tokens",
            "4",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    shown = capsys.readouterr().out
    assert "zqvl-eval: 4 samples (val split)" in shown and "perplexity" in shown and "defect: preamble" in shown
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["samples"] == 4 and len(result["models"]) == 1
    [model] = result["models"]
    assert set(model) == MODEL_KEYS and model["name"] == "model"
    assert (
        set(model["defects"]) == set(ev.DEFECT_FAMILIES)
        and model["sampled_defects"] == {}
        and model["sampled_exact_match"] is None
    )
    assert model["ended"] == 0.0 and model["mean_length"] == 4  # random weights never say <|im_end|> in 4
    assert model["perplexity"] == pytest.approx(math.exp(model["loss"]), rel=1e-6)
    assert 0 <= model["chrf"] <= 100


def test_bad_input_is_one_clear_line(setup, tmp_path, capsys):
    assert eval_cli.run_cli(eval_cli._main, [str(tmp_path), "--shards", str(setup["shards"])]) == 2
    assert "neither a model dir" in capsys.readouterr().err
    assert eval_cli.run_cli(eval_cli._main, [str(setup["model"]), "--shards", str(tmp_path / "nope")]) == 2
    assert "--shards" in capsys.readouterr().err
