from setuptools import find_packages, setup

package_name = 'pi0_sim'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='pi0_ros maintainers',
    maintainer_email='maintainers@pi0-ros.dev',
    description=('Simulated robots for pi0_ros: a simulator node that speaks each vendor driver\'s ROS 2 '
                 'interface, and the scripted expert of its task.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'simulator = pi0_sim.entry_points:simulator',
            'scripted_expert = pi0_sim.entry_points:scripted_expert',
        ],
    },
)
