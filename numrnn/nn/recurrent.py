RNN = LSTM = GRU = None
