from setuptools import setup

setup(cffi_modules=["pymemcg/_build.py:ffibuilder"])
