from demo.embedded import run

run()
