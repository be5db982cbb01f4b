RNNCell = LSTMCell = GRUCell = None
