"""Test helpers shared by the suite: data dirs, shard sets, tiny training runs, a fake OpenAI endpoint."""
