"""PyTorch parts of the engine. Importing anything here imports torch."""
