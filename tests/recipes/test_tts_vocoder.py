"""recipes/tts/vocoder.py: Griffin-Lim follows the model's hop; a Vocos folder must match the model's mel."""

from __future__ import annotations

import pytest
import torch

from audiokit.errors import CheckpointError
from audiokit.models.tts import F5TTS
from recipes.tts.vocoder import load_vocoder
from tests.unit.models.tts.test_bundle import MODEL_ARGS, write_official_vocoder


@pytest.mark.parametrize("hop", [256, 512])
def test_griffinlim_uses_the_model_hop(hop):
    model = F5TTS(**{**MODEL_ARGS, "hop_length": hop})
    voc = load_vocoder("griffinlim", model, n_iter=2)
    torch.manual_seed(0)
    mel = torch.randn(1, model.mel_dim, 20) - 4.0
    assert voc(mel).shape == (1, 19 * hop)


def test_vocos_folder_must_match_the_model(tmp_path):
    folder = write_official_vocoder(tmp_path / "vocos")  # hop 256, 100 mels, 24 kHz
    mel = torch.randn(1, 100, 12)
    assert load_vocoder(str(folder), F5TTS(**MODEL_ARGS))(mel).shape == (1, 11 * 256)
    with pytest.raises(CheckpointError, match="vocoder hop length 256 does not match the model's 512"):
        load_vocoder(str(folder), F5TTS(**{**MODEL_ARGS, "hop_length": 512}))
