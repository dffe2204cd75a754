# Reference features from torchaudio 0.13 for tests/unit/audio/features_test.cc.
# usage: /usr/bin/python3 torchaudio_ref.py in.wav outdir
import sys
import numpy as np
import torch
import torchaudio

wav, sr = torchaudio.load(sys.argv[1])  # (channels, time), float in [-1, 1]
out = sys.argv[2]
T = torchaudio.transforms
np.save(out + "/stft.npy", T.Spectrogram(n_fft=400)(wav).numpy().astype(np.float32))
np.save(out + "/stft_mag512.npy", T.Spectrogram(n_fft=512, hop_length=160, win_length=400, power=1.0)(wav).numpy().astype(np.float32))
mel = T.MelSpectrogram(sample_rate=sr, n_fft=400, n_mels=64)(wav)
np.save(out + "/logmel.npy", T.AmplitudeToDB("power")(mel).numpy().astype(np.float32))
mel_s = T.MelSpectrogram(sample_rate=sr, n_fft=512, hop_length=160, n_mels=40, f_min=50, f_max=7000,
                         mel_scale="slaney", norm="slaney")(wav)
np.save(out + "/mel_slaney.npy", mel_s.numpy().astype(np.float32))
np.save(out + "/mfcc.npy", T.MFCC(sample_rate=sr, n_mfcc=13, melkwargs={"n_fft": 400, "n_mels": 40})(wav).numpy().astype(np.float32))
