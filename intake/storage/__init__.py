"""The storage layer: models, migrations, engine set-up, and every query.

The only place in intake (with the migrations) that builds SQL. Functions take
a session (the caller owns the transaction) and say in their names what they
return; results are small frozen dataclasses or models, never bare tuples.
Sealed fields are opened and sealed through `records.RecordCipher`, so this
layer moves ciphertext and never decides who may read it.
"""
