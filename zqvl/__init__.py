"""zqvl: build Chinese-friendly LLaVA-style vision-language models, data first."""

__version__ = "0.1.0"
