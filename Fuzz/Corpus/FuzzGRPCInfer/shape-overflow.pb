
digits*
inputFP32
€€€€€€€€@