"""ZqvlProcessor: the tokenizer (with `<image>` as one special token) + the tower's image preprocessing.

`<image>` is one special token; `expand_image_tokens` turns each of its ids into `num_image_tokens` copies, so every
image owns exactly as many positions as the vision tower yields features; the model fills them in order of
appearance. It is the one expansion: this processor and the trainer's collate both go through it.
Saved as: tokenizer files + preprocessor_config.json (HF CLIP/SigLIP image-processor keys) + processor_config.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from zqvl.data.schema import IMAGE_TAG
from zqvl.errors import UsageError
from zqvl.model.image_processing import ImageProcessor
from zqvl.model.tokenizer import image_token_id, load_tokenizer

PROCESSOR_FILE = "processor_config.json"


def expand_image_tokens(ids: list[int], image_token_id: int, num_image_tokens: int) -> list[int]:
    """Each `image_token_id` in ids -> `num_image_tokens` copies of it; every other id stays where it is."""
    if image_token_id not in ids:
        return list(ids)
    out: list[int] = []
    for i in ids:
        if i == image_token_id:
            out.extend([i] * num_image_tokens)
        else:
            out.append(i)
    return out


class ZqvlProcessor:
    def __init__(self, tokenizer, image_processor: ImageProcessor, num_image_tokens: int):
        if num_image_tokens < 1:
            raise ValueError(f"num_image_tokens must be positive, got {num_image_tokens}")
        ids = tokenizer.encode(IMAGE_TAG, add_special_tokens=False)
        if len(ids) != 1:
            raise UsageError(f"'{IMAGE_TAG}' encodes to {len(ids)} ids with this tokenizer, expected exactly one")
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.num_image_tokens = num_image_tokens
        self.image_token = IMAGE_TAG
        self.image_token_id = image_token_id(tokenizer)

    def encode(self, text: str) -> list[int]:
        """Text -> ids (no BOS/EOS added), each `<image>` expanded to num_image_tokens image ids."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return expand_image_tokens(ids, self.image_token_id, self.num_image_tokens)

    def preprocess_images(self, images: list) -> torch.Tensor:  # noqa: F821
        """PIL images -> (N, 3, H, W) float tensor, as the tower was trained (see image_processing.py)."""
        return self.image_processor(images)

    def __call__(self, text: str | list[str], images: list | None = None, return_tensors: str = "pt"):
        """Convenience for inference: expand, tokenise (left-padded batch) and preprocess in one call."""
        texts = [text] if isinstance(text, str) else list(text)
        images = list(images or [])
        tags = sum(t.count(IMAGE_TAG) for t in texts)
        if tags != len(images):
            raise ValueError(f"text has {tags} '{IMAGE_TAG}' tag(s) but {len(images)} image(s) were given")
        # left padding: generation continues from the right end
        batch = self.tokenizer.pad(
            {"input_ids": [self.encode(t) for t in texts]},
            padding=True,
            padding_side="left",
            return_tensors=return_tensors,
        )
        if images:
            batch["pixel_values"] = self.preprocess_images(images)
        return batch

    # -- files ------------------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(directory))
        self.image_processor.save(directory)
        meta = {
            "processor_class": "ZqvlProcessor",
            "image_token": self.image_token,
            "image_token_id": self.image_token_id,
            "num_image_tokens": self.num_image_tokens,
        }
        (directory / PROCESSOR_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> ZqvlProcessor:
        directory = Path(directory)
        path = directory / PROCESSOR_FILE
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read {path}: {e} (is {directory} a zqvl model directory?)") from None
        import zqvl.model.configuration  # noqa: F401  registers model_type "zqvl": AutoTokenizer reads config.json

        processor = cls(load_tokenizer(directory), ImageProcessor.load(directory), int(meta["num_image_tokens"]))
        if processor.image_token_id != meta.get("image_token_id", processor.image_token_id):
            raise UsageError(
                f"{directory}: tokenizer maps {IMAGE_TAG} to {processor.image_token_id} but "
                f"{PROCESSOR_FILE} says {meta['image_token_id']}"
            )
        return processor
