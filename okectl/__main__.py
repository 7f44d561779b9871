from okectl.cli import run

run()
