"""Every configuration key, defined once, with its meaning, unit and allowed values.

Load order (see `slowfast.config.load_config`): `get_cfg()` -> `exp/<name>/config.yaml` ->
command-line `KEY VALUE` pairs -> `assert_and_infer_cfg(cfg)` (every check, once) -> `cfg.freeze()`.
Key names follow SlowFast and the released EMIM configs, which load here unchanged.
"""

from .node import CfgNode

_C = CfgNode()

# ---------------------------------------------------------------------------------------------- #
# Training
# ---------------------------------------------------------------------------------------------- #
_C.TRAIN = CfgNode()
# Train the model (then test if TEST.ENABLE).
_C.TRAIN.ENABLE = True
# Dataset registry name (case and underscores ignored; docs/data_loading.md): "sth" = "frame_folders" (folders
# of extracted frames, Something-Something), "kinetics" = "video_list" (a csv video list), "ssv2" (SSv2 videos),
# "diving48" (its prepared csv lists, segment sampling), "motion_stream" (the motion dataset rendered afresh per
# item; val/test read its files as "sth").
_C.TRAIN.DATASET = "kinetics"
# Videos per optimiser step over ALL processes (NUM_GPUS x NUM_SHARDS); each process gets BATCH_SIZE / world.
_C.TRAIN.BATCH_SIZE = 64
# Validate every EVAL_PERIOD epochs.
_C.TRAIN.EVAL_PERIOD = 10
# Save a checkpoint every CHECKPOINT_PERIOD epochs.
_C.TRAIN.CHECKPOINT_PERIOD = 10
# Resume from the newest good checkpoint in OUTPUT_DIR/checkpoints.
_C.TRAIN.AUTO_RESUME = True
# Weights to start from (fine-tuning): a SlowFast checkpoint, a released video or 2D ImageNet state dict.
_C.TRAIN.CHECKPOINT_FILE_PATH = ""
# Also load optimizer/scaler/epoch from TRAIN.CHECKPOINT_FILE_PATH (resume rather than fine-tune).
_C.TRAIN.CHECKPOINT_LOAD_OPTIMIZER = False
# Stop with a summary once more than this many training videos failed to decode, counted per process
# (0 = never stop); every failure is named in OUTPUT_DIR/data_failures.jsonl.
_C.TRAIN.MAX_DATA_FAILURES = 100
# Optimiser steps whose loss is NaN or inf that a run skips (counted in the log) before it stops; 0 = stop
# at the first. Steps the float16 loss scaler skips (inf gradients) are counted apart and never stop a run.
_C.TRAIN.MAX_NONFINITE_STEPS = 0
# Minutes a process waits in a collective (NCCL/gloo) for the others before it stops with an error: what
# bounds a run's hang when another process is stuck.
_C.TRAIN.PROCESS_GROUP_TIMEOUT_MINUTES = 30.0

# ---------------------------------------------------------------------------------------------- #
# Testing (multi-view)
# ---------------------------------------------------------------------------------------------- #
_C.TEST = CfgNode()
# Run multi-view testing after training (or alone when TRAIN.ENABLE is False).
_C.TEST.ENABLE = True
# Dataset registry name, as TRAIN.DATASET.
_C.TEST.DATASET = "kinetics"
# Views per step over all processes.
_C.TEST.BATCH_SIZE = 8
# Weights to test; empty = the last checkpoint in OUTPUT_DIR/checkpoints.
_C.TEST.CHECKPOINT_FILE_PATH = ""
# Temporal clips per video.
_C.TEST.NUM_ENSEMBLE_VIEWS = 10
# Spatial crops per clip: 1 (centre) or 3 (left/centre/right, or top/centre/bottom on portrait video).
_C.TEST.NUM_SPATIAL_CROPS = 3
# Where to save per-video scores and labels (a .pkl path, relative to OUTPUT_DIR); empty = do not save.
_C.TEST.SAVE_RESULTS_PATH = "test_results.pkl"
# Split to test on: "test" or "val" (the released sth recipes test on the val list).
_C.TEST.SPLIT = "test"

# ---------------------------------------------------------------------------------------------- #
# UniFormer backbone and EMIM
# ---------------------------------------------------------------------------------------------- #
_C.UNIFORMER = CfgNode()
# Channel width of each of the four stages.
_C.UNIFORMER.EMBED_DIM = [64, 128, 320, 512]
# Blocks in each of the four stages.
_C.UNIFORMER.DEPTH = [3, 4, 8, 3]
# Channels per attention head in stages 3-4 (heads = width / HEAD_DIM; width must divide).
_C.UNIFORMER.HEAD_DIM = 64
# MLP hidden width = MLP_RATIO x width.
_C.UNIFORMER.MLP_RATIO = 4.0
# Bias in the qkv Linear.
_C.UNIFORMER.QKV_BIAS = True
# Attention scale; None = HEAD_DIM ** -0.5.
_C.UNIFORMER.QKV_SCALE = None
# Dropout after the MLPs and projections.
_C.UNIFORMER.DROPOUT_RATE = 0.0
# Dropout on the attention weights.
_C.UNIFORMER.ATTENTION_DROPOUT_RATE = 0.0
# Stochastic depth, linear from 0 to this over all blocks.
_C.UNIFORMER.DROP_DEPTH_RATE = 0.1
# Released key; only False (joint space-time attention, the released setting) is implemented.
_C.UNIFORMER.SPLIT = False
# Temporal kernel 3 (padding 1) in patch_embed2..4 instead of 1.
_C.UNIFORMER.STD = False
# Temporal stride of patch_embed1: 1 (EMIM release, T tokens per T frames) or 2 (original UniFormer).
_C.UNIFORMER.STEM_TEMPORAL_STRIDE = 1
# Name of the pretrained weights the recipe was made with (informational; TRAIN.CHECKPOINT_FILE_PATH loads).
_C.UNIFORMER.PRETRAIN_NAME = ""
# Attention type of each block of [stage 3, stage 4]: per stage a list of names registered in
# `slowfast.models.attention` ("emim", "global"), a pattern repeated over the stage's blocks (block j gets
# pattern[j % len]); e.g. [["emim", "global"], ["emim", "global"]] is the released placement. [] (default):
# from the released keys ATTN_TYPE and CONTINUOUS_ATTN below. When set it wins, and those two must place what
# their defaults place (EMIM in even blocks, e.g. ['extra_attn64', 'extra_attn64'] with 'lg'), else an error.
# Names are checked against the registry where the model is built (docs/config.md#attention-types).
_C.UNIFORMER.ATTN_LAYERS = []
# Released key, read only when ATTN_LAYERS is []: the attention type of the 'l' blocks of [stage 3, stage 4],
# "emim" (aliases "extra_attn64", "extra_attn128", the released names) or "global" (aliases "", "none", None).
_C.UNIFORMER.ATTN_TYPE = ["emim", "emim"]
# Window K (odd, >= 1) of the windowed attention types for [stage 3, stage 4] (EMIM: K x K in the next frame).
_C.UNIFORMER.ATTN_MAX_DISP = [7, 7]
# Released key, read only when ATTN_LAYERS is []: which blocks of stages 3-4 get ATTN_TYPE, a string of 'l'
# (ATTN_TYPE) and 'g' ("global") repeated over block indices; "lg" (released) = even blocks ATTN_TYPE, odd
# global; "l" = all ATTN_TYPE; "g" = all global.
_C.UNIFORMER.CONTINUOUS_ATTN = "lg"
# LayerScale on the residual branches of attention blocks (0 = off, else the initial gamma).
_C.UNIFORMER.LAYER_SCALE = 0.0
# Reproduce the released CUDA kernel's 32-channel limit (docs/model_and_kernels.md), forward and backward.
_C.UNIFORMER.EMIM_RELEASED_KERNEL = False
# EMIM ablation switches (defaults = released behaviour).
# Motion branch: the raw cost volume through motion_conv, added to the context.
_C.UNIFORMER.EMIM_MOTION = True
# Context branch: softmax(cost) @ values.
_C.UNIFORMER.EMIM_CONTEXT = True
# Learned relative position bias rpb[heads, K, K] in the cost volume.
_C.UNIFORMER.EMIM_RPB = True
# Backend of the EMIM op: "" (best available), "torch", "cpu" (C++ extension), "cuda".
_C.UNIFORMER.EMIM_BACKEND = ""
# CUDA kernels of the EMIM op: "tensor_core" (float16/bfloat16 on tensor cores where the frame fits in shared
# memory, else the general kernels) or "simt" (the general kernels, every dtype and shape).
_C.UNIFORMER.EMIM_CUDA_KERNEL = "tensor_core"

# ---------------------------------------------------------------------------------------------- #
# Model
# ---------------------------------------------------------------------------------------------- #
_C.MODEL = CfgNode()
# Model family (informational, as in SlowFast).
_C.MODEL.ARCH = "uniformer"
# Registry name of the model class.
_C.MODEL.MODEL_NAME = "Uniformer"
# Number of classes.
_C.MODEL.NUM_CLASSES = 400
# "cross_entropy" or "soft_cross_entropy" (Mixup / label smoothing targets).
_C.MODEL.LOSS_FUNC = "cross_entropy"
# Not read by any model: accepted so the released configs, which set it (0.5), load unchanged. The released
# UniFormer has no dropout before its head; UNIFORMER.DROPOUT_RATE is the dropout of the blocks.
_C.MODEL.DROPOUT_RATE = 0.5
# Gradient checkpointing of the first CHECKPOINT_NUM[i] blocks of stage i (`build_model` calls the model's
# `set_grad_checkpointing(CHECKPOINT_NUM)` when USE_CHECKPOINT).
_C.MODEL.USE_CHECKPOINT = False
_C.MODEL.CHECKPOINT_NUM = [0, 0, 0, 0]

# ---------------------------------------------------------------------------------------------- #
# Data
# ---------------------------------------------------------------------------------------------- #
_C.DATA = CfgNode()
# Folder with the split lists (train.csv/val.csv/test.csv, or LABEL_PATH_TEMPLATE files).
_C.DATA.PATH_TO_DATA_DIR = ""
# Prefix joined to every path in the lists.
_C.DATA.PATH_PREFIX = ""
# Separator between path and label in the lists (released lists use ",", SlowFast " ").
_C.DATA.PATH_LABEL_SEPARATOR = " "
# sth: list file per split, formatted with "train"/"val"/"test".
_C.DATA.LABEL_PATH_TEMPLATE = "somethingv1_rgb_{}.txt"
# sth: frame file name, formatted with the 1-based frame number.
_C.DATA.IMAGE_TEMPLATE = "{:05d}.jpg"
# motion_stream: training videos per epoch; 0 = the dataset folder's train count.
_C.DATA.STREAM_VIDEOS_PER_EPOCH = 0
# Frames per clip (T).
_C.DATA.NUM_FRAMES = 8
# Frame stride of dense sampling (video lists).
_C.DATA.SAMPLING_RATE = 8
# Frame rate clips are resampled to for dense sampling.
_C.DATA.TARGET_FPS = 30
# Video decoder: "decord" or "pyav".
_C.DATA.DECODING_BACKEND = "decord"
# Released dense-sampling arithmetic (`slowfast.datasets.samplers.dense_indices`).
_C.DATA.USE_OFFSET_SAMPLING = False
# Per-channel mean and std (0-1 pixel scale).
_C.DATA.MEAN = [0.45, 0.45, 0.45]
_C.DATA.STD = [0.225, 0.225, 0.225]
# Short-side jitter range [min, max] in pixels (used when TRAIN_JITTER_SCALES_RELATIVE is empty).
_C.DATA.TRAIN_JITTER_SCALES = [256, 320]
# Random-resized-crop relative area range and aspect range; empty = short-side jitter.
_C.DATA.TRAIN_JITTER_SCALES_RELATIVE = []
_C.DATA.TRAIN_JITTER_ASPECT_RELATIVE = []
# Training crop size in pixels.
_C.DATA.TRAIN_CROP_SIZE = 224
# Test: short side resized to, and crops taken at, this size.
_C.DATA.TEST_CROP_SIZE = 256
# Not read: accepted so the released configs, which set it ([3], SlowFast's channels per pathway), load
# unchanged. The model has one pathway of RGB clips; any other value is refused.
_C.DATA.INPUT_CHANNEL_NUM = [3]
# Horizontal flip in training (off for Something-Something, where left/right are labels).
_C.DATA.RANDOM_FLIP = True
# Multi-view ensembling: "sum" or "max".
_C.DATA.ENSEMBLE_METHOD = "sum"
# Accepted for the released run.sh/test.sh, which pass them; they selected an internal storage
# client (MC) and threaded loading (THREAD). Here paths go through iopath and these have no effect.
_C.DATA.MC = False
_C.DATA.THREAD = False

# ---------------------------------------------------------------------------------------------- #
# Augmentation (timm)
# ---------------------------------------------------------------------------------------------- #
_C.AUG = CfgNode()
# RandAugment / random erasing / colour jitter on the training clip (same for every frame).
_C.AUG.ENABLE = False
# Clips per video per step (repeated augmentation).
_C.AUG.NUM_SAMPLE = 1
# Colour jitter strength (used when AA_TYPE is empty).
_C.AUG.COLOR_JITTER = 0.4
# timm RandAugment string, e.g. "rand-m7-n4-mstd0.5-inc1"; empty = none.
_C.AUG.AA_TYPE = "rand-m7-n4-mstd0.5-inc1"
# Resize interpolation: "bilinear" or "bicubic".
_C.AUG.INTERPOLATION = "bicubic"
# Random erasing probability, mode ("const", "rand", "pixel"), count.
_C.AUG.RE_PROB = 0.25
_C.AUG.RE_MODE = "pixel"
_C.AUG.RE_COUNT = 1
# Not read: accepted so the released configs, which set it (False), load unchanged. timm's split random
# erasing spares the first augmentation split of AugMix batches, which this codebase does not make; True is refused.
_C.AUG.RE_SPLIT = False

# ---------------------------------------------------------------------------------------------- #
# Mixup / CutMix (timm), applied per batch by the engine
# ---------------------------------------------------------------------------------------------- #
_C.MIXUP = CfgNode()
_C.MIXUP.ENABLE = False
_C.MIXUP.ALPHA = 0.8
_C.MIXUP.CUTMIX_ALPHA = 1.0
_C.MIXUP.PROB = 1.0
_C.MIXUP.SWITCH_PROB = 0.5
_C.MIXUP.LABEL_SMOOTH_VALUE = 0.1

# ---------------------------------------------------------------------------------------------- #
# BatchNorm
# ---------------------------------------------------------------------------------------------- #
_C.BN = CfgNode()
# Recompute BN statistics on NUM_BATCHES_PRECISE batches before each evaluation.
_C.BN.USE_PRECISE_STATS = False
_C.BN.NUM_BATCHES_PRECISE = 200
# SyncBatchNorm across processes in the conv stages.
_C.BN.USE_SYNC_BN = False

# ---------------------------------------------------------------------------------------------- #
# Optimiser and schedule
# ---------------------------------------------------------------------------------------------- #
_C.SOLVER = CfgNode()
# Learning rate for the batch TRAIN.BATCH_SIZE.
_C.SOLVER.BASE_LR = 1e-4
# Multiply BASE_LR by NUM_SHARDS (SlowFast semantics).
_C.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False
# "cosine" (with linear warm-up by iteration).
_C.SOLVER.LR_POLICY = "cosine"
_C.SOLVER.COSINE_END_LR = 1e-6
_C.SOLVER.COSINE_AFTER_WARMUP = True
_C.SOLVER.WARMUP_EPOCHS = 0.0
_C.SOLVER.WARMUP_START_LR = 1e-6
_C.SOLVER.MAX_EPOCH = 300
# "adamw" or "sgd".
_C.SOLVER.OPTIMIZING_METHOD = "adamw"
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.NESTEROV = True
_C.SOLVER.WEIGHT_DECAY = 0.05
# No weight decay on 1D parameters (norms, biases) and on rpb / pos_embed (model.no_weight_decay()).
_C.SOLVER.ZERO_WD_1D_PARAM = True
# Decay rpb and pos_embed as the released optimizer did by accident (exact reproduction only).
_C.SOLVER.RELEASED_WEIGHT_DECAY = False
# Gradient-norm clipping; None = off.
_C.SOLVER.CLIP_GRADIENT = None

# ---------------------------------------------------------------------------------------------- #
# Mixed precision
# ---------------------------------------------------------------------------------------------- #
_C.TRAIN.MIXED_PRECISION = False
# "float16" (with a gradient scaler) or "bfloat16".
_C.TRAIN.MIXED_PRECISION_DTYPE = "float16"

# ---------------------------------------------------------------------------------------------- #
# Speed: how the model runs, never what it computes (slowfast/engine/performance.py, docs/config.md)
# ---------------------------------------------------------------------------------------------- #
_C.PERF = CfgNode()
# torch.backends.cudnn.benchmark, set once per process at start-up: cuDNN times its algorithms for each new
# input shape and keeps the fastest. True (default) pays for the fixed clip shapes of training and testing;
# False for inputs whose shape changes every step. mmaction2's `cudnn_benchmark`, detectron2's CUDNN_BENCHMARK.
_C.PERF.CUDNN_BENCHMARK = True
# True: the 5D weights and every input clip in torch.channels_last_3d (NDHWC), the layout cuDNN's 3D
# convolutions run in without layout transforms; False (default): torch's contiguous layout (NCDHW).
_C.PERF.CHANNELS_LAST = False
# True: every 1x1x1 Conv3d (the conv blocks' conv1/conv2 and MLP) computed as a Linear over the channels
# (slowfast.models.layers.PointwiseConv3d); parameters and state dict unchanged. False (default): Conv3d.
_C.PERF.POINTWISE_AS_LINEAR = False
# True: the model compiled in place with torch.compile (nn.Module.compile; state dict keys unchanged).
_C.PERF.COMPILE = False
# torch.compile mode: "default", "reduce-overhead" (CUDA graphs), "max-autotune" (autotuned kernels and CUDA
# graphs), "max-autotune-no-cudagraphs".
_C.PERF.COMPILE_MODE = "default"

# ---------------------------------------------------------------------------------------------- #
# Data loader
# ---------------------------------------------------------------------------------------------- #
_C.DATA_LOADER = CfgNode()
_C.DATA_LOADER.NUM_WORKERS = 8
_C.DATA_LOADER.PIN_MEMORY = True
# Replacement videos tried when one fails to decode in training.
_C.DATA_LOADER.NUM_RETRIES = 10

# ---------------------------------------------------------------------------------------------- #
# Logging
# ---------------------------------------------------------------------------------------------- #
_C.TENSORBOARD = CfgNode()
_C.TENSORBOARD.ENABLE = False
# Log folder; empty = OUTPUT_DIR/runs.
_C.TENSORBOARD.LOG_DIR = ""
# Log training stats every LOG_PERIOD iterations.
_C.LOG_PERIOD = 10

# ---------------------------------------------------------------------------------------------- #
# Launch
# ---------------------------------------------------------------------------------------------- #
# Processes (GPUs) per machine; 0 = one CPU process.
_C.NUM_GPUS = 1
# Machines.
_C.NUM_SHARDS = 1
# This machine's index (set by torchrun / run.sh).
_C.SHARD_ID = 0
_C.RNG_SEED = 0
_C.OUTPUT_DIR = "./output"


def get_cfg() -> CfgNode:
    """A fresh copy of the defaults, a CfgNode whose merges widen ints to float keys (`node.py`)."""
    return _C.clone()


# The attention type each released UNIFORMER.ATTN_TYPE value names (the released configs write extra_attn*).
RELEASED_ATTN_TYPES = {"emim": "emim", "extra_attn64": "emim", "extra_attn128": "emim",
                       "global": "global", "": "global", "none": "global", "None": "global", None: "global"}
# Backends of the EMIM op (`slowfast.ops.emim_attention`); UNIFORMER.EMIM_BACKEND "" means the best available.
EMIM_BACKENDS = ("torch", "cpu", "cuda")
# CUDA kernels of the EMIM op (`slowfast.ops.emim_attention(..., cuda_kernel=...)`).
EMIM_CUDA_KERNELS = ("tensor_core", "simt")
# torch.compile modes accepted in PERF.COMPILE_MODE.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def _fail(key: str, value, allowed: str) -> None:
    raise ValueError(f"config key {key}: got {value!r}; allowed: {allowed}")


def _check_list(cfg: CfgNode, key: str, length: int) -> list:
    section, name = key.split(".")
    value = cfg[section][name]
    if not isinstance(value, (list, tuple)) or len(value) != length:
        _fail(key, value, f"a list of {length} entries")
    return list(value)


def _check_choice(cfg: CfgNode, key: str, allowed) -> None:
    node = cfg
    for part in key.split("."):
        node = node[part]
    if node not in allowed:
        _fail(key, node, ", ".join(repr(a) for a in allowed))


def attention_layer_names(cfg: CfgNode) -> list[list[str]]:
    """Per attention stage (stage 3, stage 4), the attention type name of each of its DEPTH blocks: from
    UNIFORMER.ATTN_LAYERS, or where that is [] from the released ATTN_TYPE and CONTINUOUS_ATTN ('l' = the
    stage's ATTN_TYPE, 'g' = "global"). The names are checked against the registry by the model."""
    u = cfg.UNIFORMER
    if u.ATTN_LAYERS:
        return _repeat(u.ATTN_LAYERS, u.DEPTH[2:])
    return _released_layer_names(u.ATTN_TYPE, u.CONTINUOUS_ATTN, u.DEPTH[2:])


def _repeat(patterns: list[list[str]], depths: list[int]) -> list[list[str]]:
    """Each stage's pattern repeated over its blocks: block j gets pattern[j % len(pattern)]."""
    return [[pattern[j % len(pattern)] for j in range(depth)] for pattern, depth in zip(patterns, depths)]


def _released_layer_names(attn_type: list, continuous_attn: str, depths: list[int]) -> list[list[str]]:
    """The per-block names the released keys ATTN_TYPE and CONTINUOUS_ATTN place."""
    patterns = [[RELEASED_ATTN_TYPES[t] if c == "l" else "global" for c in continuous_attn] for t in attn_type]
    return _repeat(patterns, depths)


def _check_attention_keys(cfg: CfgNode) -> None:
    """UNIFORMER.ATTN_LAYERS's form, the released keys' values, and no conflict between the two."""
    u = cfg.UNIFORMER
    for t in _check_list(cfg, "UNIFORMER.ATTN_TYPE", 2):
        if t not in RELEASED_ATTN_TYPES:
            _fail("UNIFORMER.ATTN_TYPE", u.ATTN_TYPE, f"two of {list(RELEASED_ATTN_TYPES)}")
    if not u.CONTINUOUS_ATTN or set(u.CONTINUOUS_ATTN) - set("lg"):
        _fail("UNIFORMER.CONTINUOUS_ATTN", u.CONTINUOUS_ATTN,
              "a non-empty string of 'l' (ATTN_TYPE) and 'g' (global), e.g. 'lg', 'l', 'g', 'llg'")
    if not u.ATTN_LAYERS:
        return
    if len(u.ATTN_LAYERS) != 2 or not all(
        isinstance(p, (list, tuple)) and p and all(isinstance(n, str) and n for n in p) for p in u.ATTN_LAYERS
    ):
        _fail("UNIFORMER.ATTN_LAYERS", u.ATTN_LAYERS, "[] or two non-empty lists of attention type names "
              "(stage 3, stage 4), e.g. [['emim', 'global'], ['emim', 'global']]")
    # The released keys count as set where they place other types than their defaults do (extra_attn64 = emim).
    default, depths = _C.UNIFORMER, u.DEPTH[2:]
    if (_released_layer_names(u.ATTN_TYPE, u.CONTINUOUS_ATTN, depths)
            != _released_layer_names(default.ATTN_TYPE, default.CONTINUOUS_ATTN, depths)):
        raise ValueError(
            f"config keys UNIFORMER.ATTN_LAYERS ({u.ATTN_LAYERS!r}) and the released ATTN_TYPE ({u.ATTN_TYPE!r}) / "
            f"CONTINUOUS_ATTN ({u.CONTINUOUS_ATTN!r}) both place attention types: set one of them; with ATTN_LAYERS "
            f"leave ATTN_TYPE {default.ATTN_TYPE!r} and CONTINUOUS_ATTN {default.CONTINUOUS_ATTN!r} (the defaults)")


def assert_and_infer_cfg(cfg: CfgNode) -> CfgNode:
    """Every cross-key check and derived value, called exactly once before `cfg.freeze()`."""
    u = cfg.UNIFORMER
    dims = _check_list(cfg, "UNIFORMER.EMBED_DIM", 4)
    depths = _check_list(cfg, "UNIFORMER.DEPTH", 4)
    windows = _check_list(cfg, "UNIFORMER.ATTN_MAX_DISP", 2)
    ckpt_num = _check_list(cfg, "MODEL.CHECKPOINT_NUM", 4)
    if any(not isinstance(d, int) or d <= 0 for d in dims):
        _fail("UNIFORMER.EMBED_DIM", dims, "positive integers")
    if any(not isinstance(d, int) or d < 0 for d in depths):
        _fail("UNIFORMER.DEPTH", depths, "non-negative integers")
    if u.HEAD_DIM <= 0 or any(d % u.HEAD_DIM for d in dims[2:]):
        _fail("UNIFORMER.HEAD_DIM", u.HEAD_DIM,
              f"a positive divisor of the attention-stage widths EMBED_DIM[2:] = {dims[2:]}")
    for k in windows:
        if not isinstance(k, int) or k < 1 or k % 2 == 0:
            _fail("UNIFORMER.ATTN_MAX_DISP", windows, "odd positive window sizes (3, 5, 7, ...)")
    _check_attention_keys(cfg)
    _check_choice(cfg, "UNIFORMER.STEM_TEMPORAL_STRIDE", (1, 2))
    _check_choice(cfg, "UNIFORMER.SPLIT", (False,))
    _check_choice(cfg, "AUG.RE_SPLIT", (False,))
    _check_choice(cfg, "DATA.INPUT_CHANNEL_NUM", ([3],))
    _check_choice(cfg, "UNIFORMER.EMIM_BACKEND", ("", *EMIM_BACKENDS))
    _check_choice(cfg, "UNIFORMER.EMIM_CUDA_KERNEL", EMIM_CUDA_KERNELS)
    if u.LAYER_SCALE < 0:
        _fail("UNIFORMER.LAYER_SCALE", u.LAYER_SCALE, "0 (off) or a positive initial value")
    if cfg.DATA.NUM_FRAMES < 1 or cfg.DATA.NUM_FRAMES % u.STEM_TEMPORAL_STRIDE:
        _fail("DATA.NUM_FRAMES", cfg.DATA.NUM_FRAMES,
              f"a positive multiple of UNIFORMER.STEM_TEMPORAL_STRIDE = {u.STEM_TEMPORAL_STRIDE}")
    if not (u.EMIM_MOTION or u.EMIM_CONTEXT):
        _fail("UNIFORMER.EMIM_MOTION/EMIM_CONTEXT", (u.EMIM_MOTION, u.EMIM_CONTEXT),
              "at least one EMIM branch on")
    for i, (n, d) in enumerate(zip(ckpt_num, depths)):
        if not isinstance(n, int) or not 0 <= n <= d:
            _fail("MODEL.CHECKPOINT_NUM", ckpt_num, f"integers 0..DEPTH[i] per stage (stage {i}: 0..{d})")
    _check_choice(cfg, "MODEL.LOSS_FUNC", ("cross_entropy", "soft_cross_entropy"))
    _check_choice(cfg, "DATA.DECODING_BACKEND", ("decord", "pyav"))
    _check_choice(cfg, "DATA.ENSEMBLE_METHOD", ("sum", "max"))
    _check_choice(cfg, "TEST.NUM_SPATIAL_CROPS", (1, 3))
    _check_choice(cfg, "TEST.SPLIT", ("test", "val"))
    _check_choice(cfg, "SOLVER.OPTIMIZING_METHOD", ("adamw", "sgd"))
    _check_choice(cfg, "SOLVER.LR_POLICY", ("cosine",))
    _check_choice(cfg, "TRAIN.MIXED_PRECISION_DTYPE", ("float16", "bfloat16"))
    for key in ("CUDNN_BENCHMARK", "CHANNELS_LAST", "POINTWISE_AS_LINEAR", "COMPILE"):
        _check_choice(cfg, f"PERF.{key}", (True, False))
    _check_choice(cfg, "PERF.COMPILE_MODE", COMPILE_MODES)
    for key in ("DATA.MEAN", "DATA.STD"):
        _check_list(cfg, key, 3)
    if len(cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE) not in (0, 2):
        _fail("DATA.TRAIN_JITTER_SCALES_RELATIVE", cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE,
              "[] or [min_area, max_area]")
    if len(cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE) not in (0, 2):
        _fail("DATA.TRAIN_JITTER_ASPECT_RELATIVE", cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE,
              "[] or [min_aspect, max_aspect]")
    if cfg.NUM_SHARDS < 1 or cfg.NUM_GPUS < 0:
        _fail("NUM_SHARDS/NUM_GPUS", (cfg.NUM_SHARDS, cfg.NUM_GPUS), "NUM_SHARDS >= 1, NUM_GPUS >= 0")
    if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS:
        cfg.SOLVER.BASE_LR *= cfg.NUM_SHARDS
    return cfg
