"""Implementations of the stage interfaces: embedded models and remote inference servers.

Modules here import their heavy runtimes (llama.cpp, onnxruntime, ...) themselves; this package imports
nothing, so ``openlive.backends.assets`` stays cheap to import. ``embedded.load_embedded_profile`` builds
the default profile.
"""
