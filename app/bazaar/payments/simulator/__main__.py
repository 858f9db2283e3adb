from bazaar.payments.simulator.app import main

main()
