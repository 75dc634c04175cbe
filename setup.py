from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    """-Wpedantic (pymemcg/_cflags.py) holds the core's own sources to ISO C; cffi's generated
    glue (pymemcg._core.c) casts between object and function pointers, as CPython's C API
    needs, so it alone is compiled without it."""

    def build_extension(self, ext):
        compile_one = self.compiler._compile

        def _compile(obj, src, ext_, cc_args, extra_postargs, pp_opts):
            if src.endswith("pymemcg._core.c"):
                extra_postargs = [a for a in extra_postargs if a != "-Wpedantic"]
            compile_one(obj, src, ext_, cc_args, extra_postargs, pp_opts)

        self.compiler._compile = _compile
        try:
            super().build_extension(ext)
        finally:
            self.compiler._compile = compile_one


setup(cffi_modules=["pymemcg/_build.py:ffibuilder"], cmdclass={"build_ext": BuildExt})
