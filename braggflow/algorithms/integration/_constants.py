"""Pixel-mask bits, result columns and result flags shared by the integration kernels."""


VALID = 1
BACKGROUND = 2
FOREGROUND = 4
STRONG = 8
BACKGROUND_USED = 16
OVERLAPPED = 32
OVERLOAD_BIT = 128  # private: pixel above the trusted range (cleared before output)

# result columns of integrate_group
C_ISUM, C_VSUM, C_BGMEAN, C_BGSUM, C_BGVAR, C_IPRF, C_VPRF, C_CC = 0, 1, 2, 3, 4, 5, 6, 7
C_X, C_Y, C_Z, C_VX, C_VY, C_VZ = 8, 9, 10, 11, 12, 13
C_NVALID, C_NFG, C_NBG, C_NBGUSED, C_FGVALIDFRAC = 14, 15, 16, 17, 18
N_COLS = 19

# result flags of integrate_group (DIALS bit values)
F_SUM = 1 << 8
F_PRF = 1 << 9
F_OVERLOADED = 1 << 10
F_OVL_BG = 1 << 11  # overlapped_bg: a background pixel lies in another reflection's foreground
F_OVL_FG = 1 << 12  # overlapped_fg: a foreground pixel does
F_FG_BAD = 1 << 14
F_BG_BAD = 1 << 15
F_FAIL_BG = 1 << 18
F_FAIL_SUM = 1 << 19
F_FAIL_PRF = 1 << 20

HUBER_C = 1.345
