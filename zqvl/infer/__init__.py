"""Inference on trained models: chat (generation) and eval (measured answers). Imports data, model, train."""
