"""How fast a pretraining run goes (C17): model FLOPs, utilisation, and GPU-hours for a grid.

A run's *model FLOPs utilisation* (MFU) is the rate of the FLOPs its model needs
per token, times the tokens/s it reached, against the device's peak. The FLOPs
per token are the usual count (Kaplan et al. 2020; PaLM's appendix B):
``6·N`` for the weight matrices (forward and backward; ``N`` counts the output
layer but not the input embedding, a lookup) plus ``12·layers·d_model·seq_len``
for attention's scores and values. The dry run of a GPU grid turns the same
count into GPU-hours at a stated MFU.
"""

from __future__ import annotations

PEAK_BF16_FLOPS = {
    "A100": 312e12,
    "H100": 989e12,
    "H200": 989e12,
    "B200": 2250e12,
    "L40S": 362e12,
    "A10G": 125e12,
}
"""Dense bf16 tensor-core peak of each GPU (vendor data sheets, without sparsity)."""

DEFAULT_MFU = 0.35
"""The utilisation the dry run assumes for GPU cells, unless told otherwise (``--mfu``)."""

PAPER_TOKENS, PAPER_STEPS = 210e9, 50_000
"""The paper's largest budget (section 4: "up to 210B tokens (50K steps)"), for comparison
with the GPU grid's, whose batch per size follows DataDecide's rule."""


def model_flops_per_token(config) -> float:
    """Training FLOPs per token of ``config``'s model (forward and backward)."""
    size = config.model
    matmul = size.non_embedding_params() + config.padded_vocab * size.d_model  # + the output layer
    return 6.0 * matmul + 12.0 * size.n_layers * size.d_model * config.seq_len


VARIANT_PEAK_BF16_FLOPS = {"H100 PCIE": 756e12, "H100 NVL": 835e12, "A100-PCIE": 312e12}
"""Variants whose peak differs from their family's (matched before it)."""


def peak_flops(device_name: str) -> float | None:
    """The bf16 peak of a GPU named like ``torch.cuda.get_device_name()`` (None if not listed)."""
    name = device_name.upper()
    for gpu, flops in [*VARIANT_PEAK_BF16_FLOPS.items(), *PEAK_BF16_FLOPS.items()]:
        if gpu in name:
            return flops
    return None


def mfu(config, tokens_per_s: float, device_name: str, n_devices: int = 1) -> float | None:
    """Model FLOPs utilisation of a run (None on a device without a listed peak, e.g. a CPU)."""
    peak = peak_flops(device_name)
    if peak is None:
        return None
    return model_flops_per_token(config) * tokens_per_s / (peak * n_devices)


def gpu_hours(config, gpu: str = "H100", utilisation: float = DEFAULT_MFU) -> float:
    """GPU-hours of a run (its decay branches included) at ``utilisation`` of ``gpu``'s peak."""
    if gpu not in PEAK_BF16_FLOPS:
        raise ValueError(f"gpu must be one of {', '.join(PEAK_BF16_FLOPS)}. Got {gpu!r} instead.")
    return (model_flops_per_token(config) * config.tokens_with_branches
            / (PEAK_BF16_FLOPS[gpu] * utilisation) / 3600)


def run_speed(config, tokens_per_s: float, device_name: str, n_devices: int) -> dict:
    """What a run's artifact records of its speed (tokens/s is the run's own record)."""
    return {"device_name": device_name, "n_devices": n_devices,
            "model_flops_per_token": model_flops_per_token(config),
            "mfu": mfu(config, tokens_per_s, device_name, n_devices)}


def grid_costs(paths, gpu: str = "H100", utilisation: float = DEFAULT_MFU) -> list[dict]:
    """Per sweep file: its name, sizes, largest token budget (billions) and the GPU-hours of
    every cell at ``utilisation`` of ``gpu``'s bf16 peak (:func:`gpu_hours`)."""
    from pathlib import Path

    from rarescale.sweeps.grid import Sweep

    out = []
    for path in paths:
        sweep = Sweep.from_yaml(path)
        cells = sweep.cells()
        out.append({"name": Path(path).stem, "sizes": f"{sweep.sizes[0]} to {sweep.sizes[-1]}",
                    "tokens_b": max(c.tokens_trained for c in cells) / 1e9,
                    "hours": sum(gpu_hours(c, gpu, utilisation) for c in cells), "sweep": sweep})
    return out
