// Package inspect reads a host without changing it: status (each PF as the
// kernel has it, its journal and the drift that package setup computes, and
// its watcher's state), doctor (the preflight checks and what each bypass
// mode needs and costs on a PF), and the other tools (systemd-networkd,
// NetworkManager, driverctl) set to manage a PF.
package inspect
