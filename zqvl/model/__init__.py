"""Model side of zqvl: vision towers, projector, LLM glue, tokenizer/processor, build and export."""
