"""Why the autograd baseline lags on (K, Q): the same init, step (0.1, normalised) and 2,000 iterations, with
the textbook autograd gradient and with the stable gradient (numeric.run_kq_gd), on seeds 0-2 of tf-svm-local.

    .venv/bin/python bench/tf_svm_baseline_drift.py
"""
import os
import sys

import numpy as np, numeric
from bench.tf_svm import baseline_run, SVMCache, measure
from attnsvm.verify.builtins import family_batch
f=family_batch(); X,Z,v,Y=f["X"],f["Z"],f["v"],f["Y"]
gamma=Y[...,None]*np.einsum("bnta,ba->bnt",X,v)
phi=np.stack([numeric.w_features(X[b],Z[b]) for b in range(3)]); sv=SVMCache(phi)
for b in range(3):
    Wb=baseline_run(X[b],Z[b],gamma[b],"KQ")
    K0,Q0=numeric.balanced_init(10,10,0.1)
    tr=numeric.run_kq_gd(K0,Q0,X[b],Z[b],gamma[b],numeric.LOGISTIC,step=0.1,max_iter=2000,time_budget=100)
    Ws=tr.final.theta.reshape(10,10)
    mb=measure(Wb,b,X,Z,sv); ms=measure(Ws,b,X,Z,sv)
    print(b, "baseline", mb["sel"], mb["nuc_gap"], np.linalg.norm(Wb), "| stable", ms["sel"], ms["nuc_gap"], np.linalg.norm(Ws), "| 1-corr between", numeric.one_minus_corr(Wb,Ws))
