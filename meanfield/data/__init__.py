"""Data laws: Gaussian mixtures, teacher–student, and a user's arrays."""
from ._law import DATA_ARRAYS, DATA_MIXTURE, DATA_TEACHER, DataLaw, DataSpec
from .arrays import ArrayData
from .gaussian_mixture import GaussianMixture
from .teacher_student import TeacherStudent

__all__ = ["DataLaw", "DataSpec", "GaussianMixture", "TeacherStudent", "ArrayData",
           "DATA_MIXTURE", "DATA_TEACHER", "DATA_ARRAYS"]
