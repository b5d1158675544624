"""Instance segmentation metrics of the 2018 Data Science Bowl.

Objects are matched one-to-one by IoU; at threshold t a pair counts when IoU > t.
``AP(t) = TP / (TP + FP + FN)`` per image; the DSB score is the mean of AP(t) over
t = 0.50, 0.55, ..., 0.95. For t >= 0.5 a matching is unique by construction (two objects
cannot both overlap a third by more than half of their union); below 0.5 the Hungarian
algorithm maximises the number of matches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from fiji_bridge.errors import InputError

DSB_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))


@dataclass(frozen=True)
class Counts:
    """True positives, false positives, false negatives at one IoU threshold."""

    tp: int
    fp: int
    fn: int

    @property
    def ap(self) -> float:
        """TP / (TP + FP + FN); 1.0 when both images are empty."""
        total = self.tp + self.fp + self.fn
        return 1.0 if total == 0 else self.tp / total

    @property
    def f1(self) -> float:
        total = 2 * self.tp + self.fp + self.fn
        return 1.0 if total == 0 else 2 * self.tp / total


def _compact(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel to 0..n (gaps removed) and return (labels, n)."""
    values, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    if values[0] != 0:
        inverse = inverse + 1
        return inverse, values.size
    return inverse, values.size - 1


def iou_matrix(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """IoU of every (true object, predicted object) pair, shape (n_true, n_pred)."""
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise InputError(f"label images differ in shape: {truth.shape} vs {prediction.shape}")
    t, nt = _compact(truth)
    p, npred = _compact(prediction)
    overlap = np.bincount(t.ravel() * (npred + 1) + p.ravel(), minlength=(nt + 1) * (npred + 1))
    overlap = overlap.reshape(nt + 1, npred + 1).astype(np.float64)
    area_t, area_p = overlap.sum(1), overlap.sum(0)
    inter = overlap[1:, 1:]
    union = area_t[1:, None] + area_p[None, 1:] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def counts_at(iou: np.ndarray, threshold: float) -> Counts:
    """One-to-one matching of an IoU matrix at ``threshold``."""
    n_true, n_pred = iou.shape
    if threshold >= 0.5:
        tp = int((iou > threshold).sum())
    else:
        rows, cols = linear_sum_assignment(-(iou > threshold).astype(np.float64) - 1e-3 * iou)
        tp = int((iou[rows, cols] > threshold).sum())
    return Counts(tp, n_pred - tp, n_true - tp)


def average_precision(truth: np.ndarray, prediction: np.ndarray, threshold: float = 0.5) -> float:
    """AP(t) = TP / (TP + FP + FN) for one image."""
    return counts_at(iou_matrix(truth, prediction), threshold).ap


def dsb_score(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean AP over IoU thresholds 0.50:0.05:0.95 for one image."""
    iou = iou_matrix(truth, prediction)
    return float(np.mean([counts_at(iou, t).ap for t in DSB_THRESHOLDS]))


def image_scores(truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """AP(0.5), F1(0.5) and DSB score of one image, from one IoU matrix."""
    iou = iou_matrix(truth, prediction)
    aps = [counts_at(iou, t).ap for t in DSB_THRESHOLDS]
    return {"ap50": aps[0], "f1_50": counts_at(iou, 0.5).f1, "dsb": float(np.mean(aps))}
