OPENQASM 3.0;
include "stdgates.inc";
include "mygates3.inc";
qubit[3] q;
bit[2] m;
ry(0.7) q[0];
bell q[1], q[2];
cx q[0], q[1];
h q[0];
m[0] = measure q[0];
m[1] = measure q[1];
if (m[1]) { x q[2]; }
if (m[0]) { z q[2]; }
