OPENQASM 2.0;
include "qelib1.inc";
include "mygates2.inc";
qreg q[2];
creg c[2];
entangle(pi/2) q[0], q[1];
measure q -> c;
