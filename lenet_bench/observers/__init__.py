"""What watches training without changing it: the Observer protocol, progress lines,
TensorBoard logs, cost measurements.
"""
