"""The thin command-line layer: argument parsing, printing, exit codes. Every entry point lives here and may
import any library package; no library imports this package."""
