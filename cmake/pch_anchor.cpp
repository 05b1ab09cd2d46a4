// Anchors the shared precompiled header of third-party headers; it defines nothing.
